package dev.mergeval.runtime.llama;

/**
 * RoPE inverse frequencies {@code f_i = theta^(-2i / head_dim)}, {@code i < head_dim / 2}, with
 * optional scaling as in Hugging Face's {@code modeling_rope_utils.py}:
 *
 * <ul>
 *   <li>{@code linear}: {@code f_i / factor} (positions divided by the factor);
 *   <li>{@code llama3}: with wavelength {@code w = 2 pi / f} and {@code L} the original context,
 *       {@code f / factor} where {@code w > L / low_freq_factor}, {@code f} where
 *       {@code w < L / high_freq_factor}, and in between
 *       {@code (1 - s) f / factor + s f} with {@code s = (L / w - low) / (high - low)}.
 * </ul>
 */
final class RopeFrequencies {

    private RopeFrequencies() {
    }

    static float[] inverseFrequencies(LlamaConfig config) {
        int dim = config.headDim();
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            // HF computes (2i / dim) in float32 and raises theta to it in float32.
            float exponent = (float) (2 * i) / dim;
            inv[i] = (float) (1.0 / Math.pow((float) config.ropeTheta(), exponent));
        }
        LlamaConfig.RopeScaling scaling = config.ropeScaling();
        if (scaling == null) {
            return inv;
        }
        double factor = scaling.factor();
        if (scaling.type().equals("linear")) {
            for (int i = 0; i < inv.length; i++) {
                inv[i] = (float) (inv[i] / factor);
            }
            return inv;
        }
        double oldContext = scaling.originalMaxPositionEmbeddings();
        double low = scaling.lowFreqFactor();
        double high = scaling.highFreqFactor();
        double lowFreqWavelen = oldContext / low;
        double highFreqWavelen = oldContext / high;
        for (int i = 0; i < inv.length; i++) {
            double f = inv[i];
            double wavelen = 2 * Math.PI / f;
            if (wavelen > lowFreqWavelen) {
                inv[i] = (float) (f / factor);
            } else if (wavelen >= highFreqWavelen) {
                double smooth = (oldContext / wavelen - low) / (high - low);
                inv[i] = (float) ((1 - smooth) * f / factor + smooth * f);
            }
        }
        return inv;
    }
}
