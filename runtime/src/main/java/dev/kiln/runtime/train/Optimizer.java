package dev.kiln.runtime.train;

import dev.kiln.runtime.WorkerPool;
import java.util.List;

/**
 * A first-order optimizer with the update rule of its PyTorch namesake ({@code torch.optim.SGD}, {@code Adam},
 * {@code AdamW}, {@code RMSprop}, {@code Adagrad}, as of torch 1.13), applied in place to float parameters from
 * their gradients. Each takes PyTorch's {@code maximize} flag (ascend: the gradient is negated first) through its
 * record constructor or its SPEC.
 *
 * <p>Use: {@code OptimizerState s = opt.state(sizes)} once, then {@code opt.update(step, params, grads, s)} per
 * training step with {@code step} = 1, 2, 3, .... As in PyTorch, scalars derived from the hyperparameters (bias
 * corrections, step sizes) are computed in double and every per-element operation in float, in PyTorch's order.
 * Instances are immutable values; the per-parameter buffers (momentum, moments) live in the {@link OptimizerState}.
 */
public sealed interface Optimizer permits Sgd, Adam, AdamW, RmsProp, Adagrad {

    /** Plain SGD: {@code p -= lr * g}. */
    static Sgd sgd(double lr) {
        return new Sgd(lr, 0, 0, 0, false);
    }

    /** SGD with momentum, dampening, L2 weight decay (added to the gradient) and optional Nesterov momentum. */
    static Sgd sgd(double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        return new Sgd(lr, momentum, dampening, weightDecay, nesterov);
    }

    /** Adam with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay. */
    static Adam adam(double lr) {
        return new Adam(lr, Adam.DEFAULT_BETA1, Adam.DEFAULT_BETA2, Adam.DEFAULT_EPS, 0);
    }

    /** Adam; {@code weightDecay} is L2 decay added to the gradient, as {@code torch.optim.Adam} does. */
    static Adam adam(double lr, double beta1, double beta2, double eps, double weightDecay) {
        return new Adam(lr, beta1, beta2, eps, weightDecay);
    }

    /** AdamW with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
    static AdamW adamW(double lr) {
        return new AdamW(lr, Adam.DEFAULT_BETA1, Adam.DEFAULT_BETA2, Adam.DEFAULT_EPS, AdamW.DEFAULT_WEIGHT_DECAY);
    }

    /** AdamW: Adam with decoupled weight decay, {@code p *= 1 - lr * weightDecay} before the Adam step. */
    static AdamW adamW(double lr, double beta1, double beta2, double eps, double weightDecay) {
        return new AdamW(lr, beta1, beta2, eps, weightDecay);
    }

    /** RMSprop with PyTorch's defaults: alpha 0.99, eps 1e-8, no weight decay, no momentum, not centered. */
    static RmsProp rmsprop(double lr) {
        return new RmsProp(lr, RmsProp.DEFAULT_ALPHA, RmsProp.DEFAULT_EPS, 0, 0, false, false);
    }

    /**
     * RMSprop; {@code weightDecay} is L2 decay added to the gradient, {@code centered} normalizes by the estimated
     * variance of the gradient instead of its second moment.
     */
    static RmsProp rmsprop(double lr, double alpha, double eps, double weightDecay, double momentum,
                           boolean centered) {
        return new RmsProp(lr, alpha, eps, weightDecay, momentum, centered, false);
    }

    /** Adagrad with PyTorch's defaults: no lr decay, no weight decay, accumulator starting at 0, eps 1e-10. */
    static Adagrad adagrad(double lr) {
        return new Adagrad(lr, 0, 0, 0, Adagrad.DEFAULT_EPS, false);
    }

    /**
     * Adagrad; the rate at step t is {@code lr / (1 + (t - 1) * lrDecay)}, {@code weightDecay} is L2 decay added
     * to the gradient, the squared-gradient sum starts at {@code initialAccumulatorValue}.
     */
    static Adagrad adagrad(double lr, double lrDecay, double weightDecay, double initialAccumulatorValue, double eps) {
        return new Adagrad(lr, lrDecay, weightDecay, initialAccumulatorValue, eps, false);
    }

    /**
     * Parses a SPEC such as {@code sgd:lr=0.01,momentum=0.5}, {@code adam:lr=1e-3} or
     * {@code adamw:lr=1e-3,weight_decay=0.01}. Keys are PyTorch's names: {@code lr, momentum, dampening,
     * weight_decay, nesterov} for sgd (lr required), {@code lr, beta1, beta2, betas=B1/B2, eps, weight_decay,
     * amsgrad} for adam and adamw, {@code lr, alpha, eps, weight_decay, momentum, centered} for rmsprop,
     * {@code lr, lr_decay, weight_decay, initial_accumulator_value, eps} for adagrad, and {@code maximize} for all;
     * keys left out take PyTorch's defaults.
     *
     * @throws IllegalArgumentException naming the spec and the bad name, key or value
     */
    static Optimizer parse(String spec) {
        return OptimizerSpec.parse(spec);
    }

    /** The name used in a SPEC: {@code sgd}, {@code adam}, {@code adamw}, {@code rmsprop} or {@code adagrad}. */
    String name();

    /** The learning rate. */
    double lr();

    /**
     * Names of the per-parameter buffers this optimizer keeps, as PyTorch's {@code state} dict names them:
     * {@code momentum_buffer} (SGD with momentum), {@code exp_avg}, {@code exp_avg_sq} and with amsgrad
     * {@code max_exp_avg_sq} (Adam, AdamW), {@code square_avg} and when kept {@code momentum_buffer} and
     * {@code grad_avg} (RMSprop), {@code sum} (Adagrad). The step count is the state's {@link OptimizerState#steps()}.
     */
    List<String> slotNames();

    /** This optimizer as a SPEC that {@link #parse} reads back to an equal optimizer; also its toString. */
    String spec();

    /** Fresh state for parameters of the given lengths: buffers at PyTorch's initial values, no step taken. */
    default OptimizerState state(int... sizes) {
        return new OptimizerState(name(), slotNames(), sizes);
    }

    /**
     * Takes step number {@code step} (1 for the first call on a fresh state, then 2, 3, ...): updates each
     * {@code params[i]} in place from {@code grads[i]} (both {@code state.size(i)} floats from offset 0).
     * Vectorized; gives the same bits as {@link #updateScalar}.
     *
     * @throws IllegalArgumentException when the step is not the state's next one, the arrays do not match the
     *     state's sizes, or the state belongs to another kind of optimizer; nothing is modified then
     */
    default void update(int step, float[][] params, float[][] grads, OptimizerState state) {
        update(step, params, null, grads, null, state);
    }

    /**
     * As {@link #update(int, float[][], float[][], OptimizerState)} with parameter {@code i} at
     * {@code params[i][paramOffsets[i] ..]} and its gradient at {@code grads[i][gradOffsets[i] ..]}, for
     * parameters and gradients packed into shared arrays; a null offsets array means all zero.
     */
    default void update(int step, float[][] params, int[] paramOffsets, float[][] grads, int[] gradOffsets,
                        OptimizerState state) {
        Updates.update(this, step, params, paramOffsets, grads, gradOffsets, state, true);
    }

    /**
     * As {@link #update(int, float[][], int[], float[][], int[], OptimizerState)}, the elements split over the
     * threads of {@code pool} (or null for the calling thread): the same bits for any thread count.
     */
    default void update(int step, float[][] params, int[] paramOffsets, float[][] grads, int[] gradOffsets,
                        OptimizerState state, WorkerPool pool) {
        Updates.update(this, step, params, paramOffsets, grads, gradOffsets, state, true, pool);
    }

    /** The scalar twin of {@link #update(int, float[][], float[][], OptimizerState)}: plain loops, same bits. */
    default void updateScalar(int step, float[][] params, float[][] grads, OptimizerState state) {
        updateScalar(step, params, null, grads, null, state);
    }

    /** The scalar twin of {@link #update(int, float[][], int[], float[][], int[], OptimizerState)}. */
    default void updateScalar(int step, float[][] params, int[] paramOffsets, float[][] grads, int[] gradOffsets,
                              OptimizerState state) {
        Updates.update(this, step, params, paramOffsets, grads, gradOffsets, state, false);
    }
}
