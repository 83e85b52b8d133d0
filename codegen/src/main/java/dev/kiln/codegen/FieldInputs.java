package dev.kiln.codegen;

import dev.kiln.ir.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Graph inputs that generated code does not take as {@code run} arrays: trainable parameters and state kept in
 * fields of the class (with their starting values, stored raw under their ONNX names so that a trainer can
 * update them and save what {@code load(Path)} reads), and integer inputs passed as {@code int[]} (labels).
 *
 * @param values starting value of each input held in a field, by input name, in resource order
 * @param intInputs names of integer inputs passed as {@code int[]}
 * @param reservedNames identifiers the class declares itself, kept from generated names
 */
record FieldInputs(Map<String, Tensor> values, Set<String> intInputs, List<String> reservedNames) {
    static final FieldInputs NONE = new FieldInputs(Map.of(), Set.of(), List.of());

    FieldInputs {
        values = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(values));
        intInputs = Set.copyOf(intInputs);
        reservedNames = List.copyOf(reservedNames);
    }

    boolean isEmpty() {
        return values.isEmpty() && intInputs.isEmpty();
    }
}
