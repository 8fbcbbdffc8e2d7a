package dev.mergeval.merge.methods;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.mergeval.checkpoint.TensorCodec;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The streamed cut keeps exactly the whole-tensor cut's elements, chunk by chunk, however many
 * cuts one thread has run, resolved or abandoned before it: a thread reuses the counters of every
 * cut it resolved, so a count left in them would move the next cut's threshold. The deltas' sizes
 * change from cut to cut by up to 2^20, so a cut sums and clears counters its predecessors did not
 * reach, and they counters this one does not; small cuts and large ones (counted in lanes)
 * alternate.
 */
class StreamedMagnitudeCutTest {

    private static final int CHUNK = 1000;

    @Test
    void cutsInOneThreadKeepTheWholeTensorsElements() {
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 10; round++) {
            // Odd rounds: BF16 values, whose deltas usually resolve in one pass (the bucket's smallest
            // value); even rounds: float deltas, which need the low-bit pass.
            boolean bf16 = round % 2 == 1;
            // Rounds 2, 3, 6, 7: more elements than a cut counts without lanes.
            int n = (round % 4 >= 2 ? StreamedMagnitudeCut.DIRECT_MAX : 0) + 5_000 + random.nextInt(4_000);
            float[] base = values(random, n, bf16, 1.0f);
            float[] x = base.clone();
            // Round 9: no element changed, every magnitude 0, the cut by index alone.
            double scale = round == 9 ? 0 : new double[] {0.01, 0.5, 1e-6}[round % 3];
            for (int i = 0; i < n; i++) {
                // Every seventh element unchanged: ties at magnitude 0, which rounds 4 to 8 cut into.
                x[i] = i % 7 == 0 ? base[i] : x[i] + (float) (random.nextGaussian() * scale);
                if (bf16) {
                    x[i] = TensorCodec.bf16ToFloat(TensorCodec.floatToBf16(x[i]));
                }
            }
            int k = round >= 4 ? n - n / 14 : n / 4 + random.nextInt(n / 4);
            if (round == 2) {
                abandonMidPass(x, base);
            }
            long[] expected = Sparsifier.MagnitudeCut.topK(x, base, k).bits(x, base);
            StreamedMagnitudeCut cut = new StreamedMagnitudeCut(n, k);
            StreamedMagnitudeCut other = new StreamedMagnitudeCut(n, Math.max(1, k / 2));
            while (cut.needsPass()) {
                for (int from = 0; from < n; from += CHUNK) {
                    int count = Math.min(CHUNK, n - from);
                    cut.observe(slice(x, from, count), slice(base, from, count), from, count);
                    if (other.needsPass()) {
                        other.observe(slice(x, from, count), slice(base, from, count), from, count);
                    }
                }
                cut.endPass();
                if (other.needsPass()) {
                    other.endPass();
                }
            }
            assertArrayEquals(expected, streamedBits(cut, x, base), "round " + round + ", k " + k + " of " + n);
        }
    }

    /** A cut that counts half a tensor and is dropped, as a failed unit leaves it. */
    private static void abandonMidPass(float[] x, float[] base) {
        StreamedMagnitudeCut lost = new StreamedMagnitudeCut(x.length, 1);
        lost.observe(x, base, 0, x.length / 2);
    }

    private static long[] streamedBits(StreamedMagnitudeCut cut, float[] x, float[] base) {
        int n = x.length;
        long[] bits = new long[(n + 63) >>> 6];
        long[] chunkBits = new long[(CHUNK + 63) >>> 6];
        for (int from = 0; from < n; from += CHUNK) {
            int count = Math.min(CHUNK, n - from);
            cut.bits(slice(x, from, count), slice(base, from, count), from, count, chunkBits);
            for (int i = 0; i < count; i++) {
                bits[(from + i) >>> 6] |= ((chunkBits[i >>> 6] >>> i) & 1L) << (from + i);
            }
        }
        return bits;
    }

    private static float[] values(SplittableRandom random, int n, boolean bf16, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextGaussian() * scale);
            if (bf16) {
                v[i] = TensorCodec.bf16ToFloat(TensorCodec.floatToBf16(v[i]));
            }
        }
        return v;
    }

    private static float[] slice(float[] a, int from, int count) {
        float[] s = new float[count];
        System.arraycopy(a, from, s, 0, count);
        return s;
    }
}
