package dev.kiln.ir;

/** The kinds of attribute ONNX defines that Kiln represents. */
public enum AttrType { INT, FLOAT, STRING, INTS, FLOATS, STRINGS, TENSOR, GRAPH, TYPE }
