package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;

/**
 * A tensor as generated code reaches it: an array variable or field and the offset of its first element.
 *
 * @param array the array expression ({@code image}, {@code arena}, {@code fc1Weight})
 * @param offset the element offset, e.g. {@code 0} or {@code 4096 * batch + 128}
 */
record TensorRef(String array, CodeBlock offset) {
    /** {@code array[offset + index]}. */
    CodeBlock at(CodeBlock index) {
        return isZero() ? CodeBlock.of("$N[$L]", array, index) : CodeBlock.of("$N[$L + $L]", array, offset, index);
    }

    /** {@code offset + index}, simplified when the offset is 0. */
    CodeBlock plus(CodeBlock index) {
        return isZero() ? index : CodeBlock.of("$L + $L", offset, index);
    }

    boolean isZero() {
        return offset.toString().equals("0");
    }
}
