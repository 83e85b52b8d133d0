package dev.kiln.ir.ops;

import dev.kiln.ir.Dim;
import dev.kiln.ir.ShapeContext;
import dev.kiln.ir.Tensor;
import dev.kiln.ir.SymbolicRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Symbolic rules for integer arithmetic on shape tensors: PyTorch exports compute reshape targets as
 * {@code Mul(Gather(Shape(x), 0), 320)} and the like, and these keep such results as dims ({@code 320*N})
 * whenever the exact result is a monomial.
 */
final class ShapeArithmetic {
    private ShapeArithmetic() {}

    /** How two dims combine, or empty when the result is not a monomial. */
    @FunctionalInterface
    interface DimOperator {
        Optional<Dim> apply(Dim a, Dim b);
    }

    /** The rule for a binary op whose elements combine by {@code op} (empty when not expressible). */
    static SymbolicRule binary(DimOperator op) {
        return ctx -> {
            if (!ctx.inputDtype(0).isInteger() || ctx.inputDtype(0) != ctx.inputDtype(1)) {
                return Optional.empty();
            }
            Optional<List<Dim>> a = ctx.dimsValue(0);
            Optional<List<Dim>> b = ctx.dimsValue(1);
            if (a.isEmpty() || b.isEmpty()) {
                return Optional.empty();
            }
            return broadcast(ctx, a.get(), b.get(), op);
        };
    }

    private static Optional<List<Dim>> broadcast(ShapeContext ctx, List<Dim> a, List<Dim> b,
                                                 DimOperator op) {
        int n = Math.max(a.size(), b.size());
        if (a.size() != n && a.size() != 1 || b.size() != n && b.size() != 1 || ctx.inputShape(0).rank() > 1
                || ctx.inputShape(1).rank() > 1) {
            return Optional.empty();
        }
        List<Dim> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            Optional<Dim> d = op.apply(a.get(a.size() == 1 ? 0 : i), b.get(b.size() == 1 ? 0 : i));
            if (d.isEmpty()) {
                return Optional.empty();
            }
            out.add(d.get());
        }
        return Optional.of(out);
    }

    static Optional<Dim> plus(Dim a, Dim b) {
        return a.plus(b);
    }

    static Optional<Dim> times(Dim a, Dim b) {
        return Optional.of(a.times(b));
    }

    /** {@code a - b} when it is a non-negative monomial (both static, like terms, or b = 0). */
    static Optional<Dim> minus(Dim a, Dim b) {
        if (b.coefficient() == 0) {
            return Optional.of(a);
        }
        if (!a.symbols().equals(b.symbols()) || a.coefficient() < b.coefficient()) {
            return Optional.empty();
        }
        long c = a.coefficient() - b.coefficient();
        return Optional.of(c == 0 ? Dim.of(0) : new Dim(c, a.symbols()));
    }

    /** Truncating {@code a / b}: any static quotient, or an exact monomial one ({@code 320*N / 320 = N}). */
    static Optional<Dim> dividedBy(Dim a, Dim b) {
        if (b.isStatic() && b.value() == 0) {
            return Optional.empty();
        }
        if (a.isStatic() && b.isStatic()) {
            return Optional.of(Dim.of(a.value() / b.value()));
        }
        return a.dividedBy(b);
    }

    /**
     * Where on shape tensors with a constant condition: each element is taken from X's or Y's dims, as
     * exporters do to substitute a dim into a reshape target.
     */
    static Optional<List<Dim>> where(ShapeContext ctx) {
        Optional<Tensor> cond = ctx.constant(0);
        Optional<List<Dim>> x = ctx.dimsValue(1);
        Optional<List<Dim>> y = ctx.dimsValue(2);
        if (cond.isEmpty() || x.isEmpty() || y.isEmpty() || cond.get().rank() > 1 || ctx.inputShape(1).rank() > 1
                || ctx.inputShape(2).rank() > 1) {
            return Optional.empty();
        }
        boolean[] c = cond.get().bools();
        int n = Math.max(c.length, Math.max(x.get().size(), y.get().size()));
        for (int len : new int[] {c.length, x.get().size(), y.get().size()}) {
            if (len != n && len != 1) {
                return Optional.empty();
            }
        }
        List<Dim> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            boolean pick = c[c.length == 1 ? 0 : i];
            List<Dim> from = pick ? x.get() : y.get();
            out.add(from.get(from.size() == 1 ? 0 : i));
        }
        return Optional.of(out);
    }
}
