package dev.kiln.ir;

import java.util.Objects;
import java.util.Optional;

/**
 * Declaration of one attribute of an op.
 *
 * @param name attribute name as in ONNX
 * @param type its kind
 * @param defaultValue the value used when the node does not set it; empty for required or
 *     "absent means something" attributes
 * @param required whether a node must set it
 * @param doc one line on what it means
 */
public record AttrSpec(String name, AttrType type, Optional<Attr> defaultValue, boolean required, String doc) {
    public AttrSpec {
        Objects.requireNonNull(name);
        Objects.requireNonNull(type);
        Objects.requireNonNull(defaultValue);
        Objects.requireNonNull(doc);
        if (required && defaultValue.isPresent()) {
            throw new IllegalArgumentException("required attribute " + name + " cannot have a default");
        }
        defaultValue.ifPresent(d -> {
            if (d.type() != type) {
                throw new IllegalArgumentException("default of " + name + " is " + d.type() + ", not " + type);
            }
        });
    }
}
