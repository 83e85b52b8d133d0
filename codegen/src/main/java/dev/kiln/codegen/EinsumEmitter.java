package dev.kiln.codegen;

import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.TypeName;
import dev.kiln.ir.DType;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Node;
import dev.kiln.ir.Shape;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Einsum as numpy defines it: a loop nest over the output's labels, and inside it over the summed labels, adding
 * the product of one element of each operand (a repeated label reads a diagonal; {@code ...} stands for broadcast
 * dims, aligned from the right, a size-1 dim read at index 0). Sums in double for floating types and in wrapping
 * long for integers, rounded once to the output type.
 */
final class EinsumEmitter implements KernelEmitter {
    /** Labels of the ellipsis dims: chars from here up, numbered from the outermost broadcast dim. */
    private static final char ELLIPSIS_BASE = '\u0100';

    @Override
    public boolean typed(Node n) {
        return true;
    }

    @Override
    public CodeBlock emit(EmitContext ctx) {
        Node n = ctx.node;
        String eq = ctx.stringAttr("equation").replace(" ", "");
        int arrow = eq.indexOf("->");
        String lhs = arrow < 0 ? eq : eq.substring(0, arrow);
        String[] terms = lhs.split(",", -1);
        if (terms.length != n.inputs().size()) {
            throw ctx.unsupported("Einsum equation '" + eq + "' for " + n.inputs().size() + " operands");
        }
        int ellipsisRank = 0;
        for (int i = 0; i < terms.length; i++) {
            if (terms[i].contains("...")) {
                ellipsisRank = Math.max(ellipsisRank, n.input(i).shape().rank() - terms[i].replace("...", "").length());
            }
        }
        List<List<Character>> inputs = new ArrayList<>();
        for (int i = 0; i < terms.length; i++) {
            inputs.add(expand(terms[i], n.input(i).shape().rank(), ellipsisRank));
        }
        List<Character> output;
        if (arrow >= 0) {
            output = expand(eq.substring(arrow + 2), -1, ellipsisRank);
        } else {
            // Implicit form: the broadcast dims, then the letters used once, alphabetically.
            output = new ArrayList<>();
            for (int e = 0; e < ellipsisRank; e++) {
                output.add((char) (ELLIPSIS_BASE + e));
            }
            Map<Character, Integer> uses = new TreeMap<>();
            inputs.forEach(in -> in.stream().filter(c -> c < ELLIPSIS_BASE).forEach(c -> uses.merge(c, 1, Integer::sum)));
            uses.forEach((c, count) -> {
                if (count == 1) {
                    output.add(c);
                }
            });
        }
        // Each label's extent: the first non-1 dim it labels (1 when every one is 1).
        Map<Character, Dim> size = new LinkedHashMap<>();
        output.forEach(c -> size.put(c, Dim.of(1)));
        for (int i = 0; i < inputs.size(); i++) {
            Shape s = n.input(i).shape();
            for (int a = 0; a < s.rank(); a++) {
                char c = inputs.get(i).get(a);
                if (!size.containsKey(c) || StridedCopy.isOne(size.get(c))) {
                    size.put(c, s.dim(a));
                }
            }
        }
        ElementType t = EmitContext.type(n.output(0));
        boolean floating = t.dtype().kind() == DType.Kind.FLOAT;
        Map<Character, String> index = new LinkedHashMap<>();
        size.keySet().forEach(c -> index.put(c, ctx.locals.newName(c < ELLIPSIS_BASE ? "i" + c : "e" + (c - ELLIPSIS_BASE))));
        CodeBlock.Builder b = CodeBlock.builder();
        for (char c : output) {
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", index.get(c), index.get(c), ctx.dim(size.get(c)), index.get(c));
        }
        String acc = ctx.locals.newName("acc");
        b.addStatement("$L $N = 0", floating ? "double" : "long", acc);
        List<Character> summed = size.keySet().stream().filter(c -> !output.contains(c)).toList();
        for (char c : summed) {
            b.beginControlFlow("for (int $N = 0; $N < $L; $N++)", index.get(c), index.get(c), ctx.dim(size.get(c)), index.get(c));
        }
        List<CodeBlock> factors = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            ElementType it = EmitContext.type(n.input(i));
            boolean widen = it.element().equals(TypeName.FLOAT) || it.element().equals(TypeName.INT);
            CodeBlock read = ctx.in(i).at(offset(ctx, n.input(i).shape(), inputs.get(i), index));
            factors.add(widen ? CodeBlock.of("($L) $L", floating ? "double" : "long", read) : read);
        }
        b.addStatement("$N += $L", acc, CodeBlock.join(factors, " * "));
        for (int k = 0; k < summed.size(); k++) {
            b.endControlFlow();
        }
        CodeBlock value = t.element().equals(TypeName.FLOAT) ? CodeBlock.of("(float) $N", acc) : CodeBlock.of("$N", acc);
        b.addStatement("$L = $L", ctx.out(0).at(offset(ctx, n.output(0).shape(), output, index)), t.narrow(value));
        for (int k = 0; k < output.size(); k++) {
            b.endControlFlow();
        }
        return b.build();
    }

    /** The row-major offset of the element at the labels' current indices; a size-1 dim is read at 0. */
    private static CodeBlock offset(EmitContext ctx, Shape s, List<Character> labels, Map<Character, String> index) {
        List<CodeBlock> terms = new ArrayList<>();
        Dim stride = Dim.of(1);
        for (int a = s.rank() - 1; a >= 0; a--) {
            if (!StridedCopy.isOne(s.dim(a))) {
                terms.add(0, CodeBlock.of("$N * $L", index.get(labels.get(a)), ctx.dim(stride)));
            }
            stride = stride.times(s.dim(a));
        }
        return terms.isEmpty() ? CodeBlock.of("0") : CodeBlock.join(terms, " + ");
    }

    /** The labels of a term's axes, its {@code ...} replaced by the last {@code own - letters} ellipsis labels. */
    private static List<Character> expand(String term, int own, int ellipsisRank) {
        List<Character> out = new ArrayList<>();
        int at = term.indexOf("...");
        String letters = term.replace("...", "");
        int dots = at < 0 ? 0 : own < 0 ? ellipsisRank : own - letters.length();
        for (int i = 0; i < term.length(); i++) {
            if (at >= 0 && i == at) {
                for (int e = ellipsisRank - dots; e < ellipsisRank; e++) {
                    out.add((char) (ELLIPSIS_BASE + e));
                }
                i += 2;
            } else {
                out.add(term.charAt(i));
            }
        }
        return out;
    }
}
