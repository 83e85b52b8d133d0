package dev.kiln.ir.builder;

/**
 * Options of a 2-D convolution ({@code nn.Conv2d}) on NCHW input: weight {@code [filters, in/groups, kh, kw]}
 * named {@code <name>.weight}, bias {@code [filters]} named {@code <name>.bias}. Padding is symmetric, in
 * pixels, as in PyTorch.
 *
 * @param name the layer name, empty for the next free {@code conv<k>}
 */
public record Conv2d(String name, int filters, int kernelH, int kernelW, int strideH, int strideW, int padH, int padW,
                     int dilationH, int dilationW, int groups, boolean bias) {

    public Conv2d {
        java.util.Objects.requireNonNull(name, "name");
        if (filters <= 0 || kernelH <= 0 || kernelW <= 0 || strideH <= 0 || strideW <= 0 || dilationH <= 0
                || dilationW <= 0 || groups <= 0 || padH < 0 || padW < 0) {
            throw new IllegalArgumentException("conv2d needs positive filters, kernel, stride, dilation and groups "
                    + "and non-negative padding: " + this);
        }
        if (filters % groups != 0) {
            throw new IllegalArgumentException("conv2d filters (" + filters + ") must be divisible by groups ("
                    + groups + ")");
        }
    }

    /** {@code filters} square {@code kernel x kernel} filters, stride 1, no padding, with bias. */
    public static Conv2d of(int filters, int kernel) {
        return new Conv2d("", filters, kernel, kernel, 1, 1, 0, 0, 1, 1, 1, true);
    }

    public Conv2d named(String n) {
        return new Conv2d(n, filters, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, groups, bias);
    }

    public Conv2d kernel(int kh, int kw) {
        return new Conv2d(name, filters, kh, kw, strideH, strideW, padH, padW, dilationH, dilationW, groups, bias);
    }

    public Conv2d stride(int s) { return stride(s, s); }

    public Conv2d stride(int sh, int sw) {
        return new Conv2d(name, filters, kernelH, kernelW, sh, sw, padH, padW, dilationH, dilationW, groups, bias);
    }

    public Conv2d padding(int p) { return padding(p, p); }

    public Conv2d padding(int ph, int pw) {
        return new Conv2d(name, filters, kernelH, kernelW, strideH, strideW, ph, pw, dilationH, dilationW, groups, bias);
    }

    public Conv2d dilation(int d) { return dilation(d, d); }

    public Conv2d dilation(int dh, int dw) {
        return new Conv2d(name, filters, kernelH, kernelW, strideH, strideW, padH, padW, dh, dw, groups, bias);
    }

    public Conv2d groups(int g) {
        return new Conv2d(name, filters, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, g, bias);
    }

    public Conv2d bias(boolean b) {
        return new Conv2d(name, filters, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, groups, b);
    }
}
