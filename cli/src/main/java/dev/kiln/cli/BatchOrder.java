package dev.kiln.cli;

import java.util.SplittableRandom;

/**
 * The order in which training samples enter batches: an endless sequence of passes over the samples, each pass
 * either the file order or a new random permutation, cut into batches of consecutive picks. A batch may span two
 * passes (the sequence wraps around), so every step is full-sized.
 */
final class BatchOrder {
    private final int[] order;
    private final SplittableRandom random;
    private int position;

    /** @param seed the seed of the permutations; unused without shuffling */
    BatchOrder(int samples, boolean shuffle, long seed) {
        order = new int[samples];
        for (int i = 0; i < samples; i++) {
            order[i] = i;
        }
        random = shuffle ? new SplittableRandom(seed) : null;
        position = samples;
    }

    /** Fills {@code picks} with the next sample indices. */
    void next(int[] picks) {
        for (int i = 0; i < picks.length; i++) {
            if (position == order.length) {
                newPass();
            }
            picks[i] = order[position++];
        }
    }

    private void newPass() {
        if (random != null) {
            for (int i = order.length - 1; i > 0; i--) {
                int j = random.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        position = 0;
    }
}
