package dev.mergeval.runtime.llama;

import dev.mergeval.runtime.TestModels.Tensor;
import java.util.Map;

/**
 * An independent plain-Java Llama forward pass (llama3.java style: one sequence, explicit loops,
 * double accumulation), the oracle for {@link LlamaForward}. Follows Hugging Face's
 * {@code modeling_llama.py}: rotate_half RoPE, grouped-query attention, SwiGLU, RMSNorm, and
 * {@code modeling_mistral.py}'s sliding window (a query sees its last {@code sliding_window} keys).
 */
final class ReferenceLlama {

    private final LlamaConfig c;
    private final Map<String, Tensor> w;

    ReferenceLlama(LlamaConfig config, Map<String, Tensor> weights) {
        this.c = config;
        this.w = weights;
    }

    /** Logits {@code [T][vocab]} for one sequence at positions 0..T-1. */
    float[][] logits(int[] tokens) {
        int d = c.hiddenSize();
        int hd = c.headDim();
        int heads = c.numAttentionHeads();
        int kvHeads = c.numKeyValueHeads();
        int t = tokens.length;
        float[] embed = w.get("model.embed_tokens.weight").data();
        // x[T][d]: the residual stream
        float[][] x = new float[t][d];
        for (int p = 0; p < t; p++) {
            System.arraycopy(embed, tokens[p] * d, x[p], 0, d);
        }
        float[] inv = RopeFrequencies.inverseFrequencies(c);
        for (int l = 0; l < c.numHiddenLayers(); l++) {
            String pre = "model.layers." + l + ".";
            float[][] q = new float[t][];
            float[][] k = new float[t][];
            float[][] v = new float[t][];
            for (int p = 0; p < t; p++) {
                float[] n = rmsNorm(x[p], w.get(pre + "input_layernorm.weight").data());
                q[p] = rope(linear(n, pre + "self_attn.q_proj", c.qkvBias()), p, inv, heads);
                k[p] = rope(linear(n, pre + "self_attn.k_proj", c.qkvBias()), p, inv, kvHeads);
                v[p] = linear(n, pre + "self_attn.v_proj", c.qkvBias());
            }
            for (int p = 0; p < t; p++) {
                int first = c.slides(l) ? Math.max(0, p - c.slidingWindow() + 1) : 0;
                float[] att = new float[heads * hd];
                for (int h = 0; h < heads; h++) {
                    int kvh = h / c.groupSize();
                    double[] score = new double[p + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = first; s <= p; s++) {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) {
                            dot += q[p][h * hd + i] * k[s][kvh * hd + i];
                        }
                        score[s] = dot / Math.sqrt(hd);
                        max = Math.max(max, score[s]);
                    }
                    double sum = 0;
                    for (int s = first; s <= p; s++) {
                        score[s] = Math.exp(score[s] - max);
                        sum += score[s];
                    }
                    for (int i = 0; i < hd; i++) {
                        double acc = 0;
                        for (int s = first; s <= p; s++) {
                            acc += score[s] / sum * v[s][kvh * hd + i];
                        }
                        att[h * hd + i] = (float) acc;
                    }
                }
                float[] o = linear(att, pre + "self_attn.o_proj", c.outputBias());
                for (int i = 0; i < d; i++) {
                    x[p][i] += o[i];
                }
                float[] m = rmsNorm(x[p], w.get(pre + "post_attention_layernorm.weight").data());
                float[] gate = linear(m, pre + "mlp.gate_proj", c.mlpBias());
                float[] up = linear(m, pre + "mlp.up_proj", c.mlpBias());
                for (int i = 0; i < gate.length; i++) {
                    gate[i] = (float) (gate[i] / (1 + Math.exp(-gate[i])) * up[i]);
                }
                float[] down = linear(gate, pre + "mlp.down_proj", c.mlpBias());
                for (int i = 0; i < d; i++) {
                    x[p][i] += down[i];
                }
            }
        }
        String head = c.tieWordEmbeddings() ? "model.embed_tokens" : "lm_head";
        float[][] out = new float[t][];
        for (int p = 0; p < t; p++) {
            out[p] = matVec(w.get(head + ".weight").data(), rmsNorm(x[p], w.get("model.norm.weight").data()), null);
        }
        return out;
    }

    private float[] linear(float[] in, String name, boolean bias) {
        return matVec(w.get(name + ".weight").data(), in, bias ? w.get(name + ".bias").data() : null);
    }

    /** W[out][in] times x, plus bias. */
    private static float[] matVec(float[] weight, float[] in, float[] bias) {
        int out = weight.length / in.length;
        float[] y = new float[out];
        for (int r = 0; r < out; r++) {
            double acc = bias == null ? 0 : bias[r];
            for (int i = 0; i < in.length; i++) {
                acc += (double) weight[r * in.length + i] * in[i];
            }
            y[r] = (float) acc;
        }
        return y;
    }

    private float[] rmsNorm(float[] x, float[] weight) {
        double ss = 0;
        for (float f : x) {
            ss += (double) f * f;
        }
        double scale = 1.0 / Math.sqrt(ss / x.length + c.rmsNormEps());
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (float) (weight[i] * x[i] * scale);
        }
        return y;
    }

    /** rotate_half RoPE: pairs (i, i + hd/2) of each head rotate by angle p * inv[i]. */
    private float[] rope(float[] x, int p, float[] inv, int heads) {
        int hd = c.headDim();
        int half = hd / 2;
        float[] y = x.clone();
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < half; i++) {
                double angle = (double) p * inv[i];
                double cos = Math.cos(angle);
                double sin = Math.sin(angle);
                double a = x[h * hd + i];
                double b = x[h * hd + i + half];
                y[h * hd + i] = (float) (a * cos - b * sin);
                y[h * hd + i + half] = (float) (b * cos + a * sin);
            }
        }
        return y;
    }
}
