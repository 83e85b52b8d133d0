package dev.kiln.ir.ops;

import dev.kiln.ir.Tensor;

/**
 * Reference evaluators of Softmax, LogSoftmax and Hardmax along one axis: each lane (all elements that differ
 * only in the axis index) is normalized on its own, after subtracting its maximum as numpy-based references do.
 */
final class Softmax {
    private Softmax() {}

    static Tensor softmax(Tensor x, int axis) {
        return perLane(x, axis, (lane, out) -> {
            double max = max(lane);
            double sum = 0;
            for (int k = 0; k < lane.length; k++) {
                out[k] = Math.exp(lane[k] - max);
                sum += out[k];
            }
            for (int k = 0; k < lane.length; k++) {
                out[k] /= sum;
            }
        });
    }

    static Tensor logSoftmax(Tensor x, int axis) {
        return perLane(x, axis, (lane, out) -> {
            double max = max(lane);
            double sum = 0;
            for (double v : lane) {
                sum += Math.exp(v - max);
            }
            double logSum = Math.log(sum);
            for (int k = 0; k < lane.length; k++) {
                out[k] = lane[k] - max - logSum;
            }
        });
    }

    static Tensor hardmax(Tensor x, int axis) {
        return perLane(x, axis, (lane, out) -> {
            if (lane.length > 0) {
                out[argMax(lane)] = 1;
            }
        });
    }

    /** Index of the first maximum, a NaN counting as larger than everything (as numpy.argmax). */
    static int argMax(double[] lane) {
        int best = 0;
        for (int k = 1; k < lane.length && !Double.isNaN(lane[best]); k++) {
            if (lane[k] > lane[best] || Double.isNaN(lane[k])) {
                best = k;
            }
        }
        return best;
    }

    private static double max(double[] lane) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : lane) {
            m = Math.max(m, v);
        }
        return m;
    }

    /** Computes one lane's outputs (pre-zeroed) from its inputs. */
    @FunctionalInterface
    private interface LaneFunction {
        void apply(double[] lane, double[] out);
    }

    private static Tensor perLane(Tensor x, int axis, LaneFunction f) {
        AxisLayout layout = AxisLayout.of(x.shape(), axis);
        double[] in = x.doubles();
        double[] out = new double[in.length];
        double[] lane = new double[layout.axisLength()];
        double[] laneOut = new double[layout.axisLength()];
        for (int o = 0; o < layout.outer(); o++) {
            for (int i = 0; i < layout.inner(); i++) {
                for (int k = 0; k < lane.length; k++) {
                    lane[k] = in[layout.index(o, k, i)];
                    laneOut[k] = 0;
                }
                f.apply(lane, laneOut);
                for (int k = 0; k < lane.length; k++) {
                    out[layout.index(o, k, i)] = laneOut[k];
                }
            }
        }
        return Tensor.wrapDoubles(x.dtype(), x.shape(), out);
    }
}
