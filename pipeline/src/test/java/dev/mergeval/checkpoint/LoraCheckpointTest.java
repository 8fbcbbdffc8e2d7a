package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The LoRA view against an explicit matrix product computed here in double precision. */
class LoraCheckpointTest {

    private static final String Q = "model.layers.0.self_attn.q_proj.weight";
    private static final String V = "model.layers.0.self_attn.v_proj.weight";
    private static final String FC = "transformer.h.0.mlp.c_fc.weight";
    private static final String NORM = "model.norm.weight";

    @TempDir
    java.nio.file.Path tmp;

    private final Configuration conf = new Configuration();

    private static float[] random(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    /** Base: q [6,5], v [4,5], a Conv1D-style c_fc stored [in=5, out=7], and a norm. */
    private java.nio.file.Path base(String name, DType dt) {
        SplittableRandom rnd = new SplittableRandom(11);
        java.nio.file.Path dir = tmp.resolve(name);
        Path p = new Path(dir.toUri());
        SafetensorsWriter.write(HadoopFs.get(p, conf), p, List.of(
                SafetensorsWriter.TensorData.ofFloats(Q, dt, new long[] {6, 5}, random(rnd, 30)),
                SafetensorsWriter.TensorData.ofFloats(V, dt, new long[] {4, 5}, random(rnd, 20)),
                SafetensorsWriter.TensorData.ofFloats(FC, dt, new long[] {5, 7}, random(rnd, 35)),
                SafetensorsWriter.TensorData.ofFloats(NORM, dt, new long[] {5}, random(rnd, 5))),
                1 << 20, Map.of());
        return dir;
    }

    private record Lora(String module, int out, int in, float[] a, float[] b) {
    }

    private java.nio.file.Path adapter(String name, String configJson, List<Lora> loras,
                                       List<SafetensorsWriter.TensorData> extra) throws IOException {
        java.nio.file.Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("adapter_config.json"), configJson);
        List<SafetensorsWriter.TensorData> t = new ArrayList<>();
        for (Lora l : loras) {
            int r = l.a().length / l.in();
            t.add(SafetensorsWriter.TensorData.ofFloats("base_model.model." + l.module() + ".lora_A.weight",
                    DType.F32, new long[] {r, l.in()}, l.a()));
            t.add(SafetensorsWriter.TensorData.ofFloats("base_model.model." + l.module() + ".lora_B.weight",
                    DType.F32, new long[] {l.out(), r}, l.b()));
        }
        t.addAll(extra);
        Path f = new Path(dir.resolve("adapter_model.safetensors").toUri());
        SafetensorsWriter.writeFile(HadoopFs.get(f, conf), f, t, Map.of("format", "pt"));
        return dir;
    }

    /** W + scale * (B @ A), transposed for fan_in_fan_out, in double. */
    private static double[] expected(float[] w, Lora l, int r, double scale, boolean fanInFanOut) {
        double[] out = new double[w.length];
        for (int o = 0; o < l.out(); o++) {
            for (int i = 0; i < l.in(); i++) {
                double d = 0;
                for (int k = 0; k < r; k++) {
                    d += (double) l.b()[o * r + k] * l.a()[k * l.in() + i];
                }
                int idx = fanInFanOut ? i * l.out() + o : o * l.in() + i;
                out[idx] = w[idx] + scale * d;
            }
        }
        return out;
    }

    private static void assertClose(double[] want, float[] got, double tol, String what) {
        assertEquals(want.length, got.length);
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], tol * Math.max(1, Math.abs(want[i])), what + " [" + i + "]");
        }
    }

    private static String config(int r, double alpha, String extra) {
        return "{\"peft_type\":\"LORA\",\"r\":" + r + ",\"lora_alpha\":" + alpha
                + ",\"target_modules\":[\"q_proj\",\"v_proj\",\"c_fc\"],\"bias\":\"none\"" + extra + "}";
    }

    @Test
    void effectiveWeightIsBasePlusScaledProduct() throws IOException {
        SplittableRandom rnd = new SplittableRandom(5);
        int r = 3;
        Lora q = new Lora("model.layers.0.self_attn.q_proj", 6, 5, random(rnd, r * 5), random(rnd, 6 * r));
        java.nio.file.Path base = base("base", DType.F32);
        java.nio.file.Path ad = adapter("plain", config(r, 6, ""), List.of(q), List.of());
        try (Checkpoint b = Checkpoint.open(base.toString(), conf);
             Checkpoint ck = Checkpoint.open(base + "+" + ad, conf)) {
            assertTrue(ck instanceof LoraCheckpoint);
            double[] want = expected(b.readFloats(Q), q, r, 6.0 / 3, false);
            float[] got = ck.readFloats(Q);
            assertClose(want, got, 1e-6, "q");
            assertArrayEquals(b.readFloats(V), ck.readFloats(V), "untouched tensor");
            assertArrayEquals(b.readFloats(NORM), ck.readFloats(NORM));
            for (int off = 0; off < 30; off += 7) {
                for (int len : new int[] {1, 4, 5, 11, 30 - off}) {
                    if (off + len <= 30) {
                        assertArrayEquals(java.util.Arrays.copyOfRange(got, off, off + len),
                                ck.readFloats(Q, off, len), "range " + off + "+" + len);
                    }
                }
            }
            float[] raw = new float[30];
            TensorCodec.decode(DType.F32, java.nio.ByteBuffer.wrap(ck.readRaw(Q, 0, 120)), raw, 0, 30);
            assertArrayEquals(got, raw, "raw read carries the delta too");
            List<String> files = ck.shardFiles().stream().map(ShardFile::path).toList();
            assertEquals(b.shardFiles().size() + 2, files.size(), "the adapter's weights and config: " + files);
            assertTrue(files.get(files.size() - 1).endsWith("adapter_config.json"), files.toString());
        }
    }

    @Test
    void rsloraFanInFanOutAndPatterns() throws IOException {
        SplittableRandom rnd = new SplittableRandom(6);
        int r = 4;
        Lora fc = new Lora("transformer.h.0.mlp.c_fc", 7, 5, random(rnd, r * 5), random(rnd, 7 * r));
        Lora q = new Lora("model.layers.0.self_attn.q_proj", 6, 5, random(rnd, 2 * 5), random(rnd, 6 * 2));
        java.nio.file.Path base = base("base2", DType.F32);
        String cfg = config(r, 8, ",\"use_rslora\":true,\"fan_in_fan_out\":true"
                + ",\"rank_pattern\":{\"self_attn\\\\.q_proj\":2},\"alpha_pattern\":{\"q_.*\":5}");
        // The patterns name q_proj only, so c_fc keeps r and lora_alpha.
        java.nio.file.Path ad = adapter("fif", cfg, List.of(fc), List.of());
        try (Checkpoint b = Checkpoint.open(base.toString(), conf);
             Checkpoint ck = Checkpoint.open(base + "+" + ad, conf)) {
            double[] want = expected(b.readFloats(FC), fc, r, 8 / Math.sqrt(r), true);
            assertClose(want, ck.readFloats(FC), 1e-6, "c_fc");
            assertArrayEquals(java.util.Arrays.copyOfRange(ck.readFloats(FC), 9, 23),
                    ck.readFloats(FC, 9, 14), "partial rows");
        }
        java.nio.file.Path ad2 = adapter("patterns", config(r, 8, ",\"use_rslora\":true"
                + ",\"rank_pattern\":{\"self_attn\\\\.q_proj\":2},\"alpha_pattern\":{\"q_.*\":5}"),
                List.of(q), List.of());
        try (Checkpoint b = Checkpoint.open(base.toString(), conf);
             Checkpoint ck = Checkpoint.open(base + "+" + ad2, conf)) {
            LoraAdapter.Module m = ((LoraCheckpoint) ck).adapter().modules().get(Q);
            assertEquals(2, m.rank());
            assertEquals(5.0, m.alpha());
            double[] want = expected(b.readFloats(Q), q, 2, 5 / Math.sqrt(2), false);
            assertClose(want, ck.readFloats(Q), 1e-6, "q with patterns");
        }
    }

    @Test
    void embeddingLoraAddsTheTransposedProductToEachTokensRow() throws IOException {
        SplittableRandom rnd = new SplittableRandom(12);
        String embed = "model.embed_tokens";
        int vocab = 7;
        int dim = 5;
        int r = 2;
        java.nio.file.Path base = tmp.resolve("embed-base");
        Path bp = new Path(base.toUri());
        SafetensorsWriter.write(HadoopFs.get(bp, conf), bp, List.of(SafetensorsWriter.TensorData.ofFloats(
                embed + ".weight", DType.F32, new long[] {vocab, dim}, random(rnd, vocab * dim))), 1 << 20, Map.of());
        float[] a = random(rnd, r * vocab);
        float[] b = random(rnd, dim * r);
        // fan_in_fan_out is for Conv1D weights; PEFT's embedding layer ignores it.
        java.nio.file.Path ad = adapter("embed-ad", "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":3,"
                + "\"target_modules\":[\"embed_tokens\"],\"fan_in_fan_out\":true}", List.of(), List.of(
                SafetensorsWriter.TensorData.ofFloats("base_model.model." + embed + ".lora_embedding_A", DType.F32,
                        new long[] {r, vocab}, a),
                SafetensorsWriter.TensorData.ofFloats("base_model.model." + embed + ".lora_embedding_B", DType.F32,
                        new long[] {dim, r}, b)));
        try (Checkpoint bc = Checkpoint.open(base.toString(), conf);
             Checkpoint ck = Checkpoint.open(base + "+" + ad, conf)) {
            float[] w = bc.readFloats(embed + ".weight");
            double[] want = new double[w.length];
            for (int t = 0; t < vocab; t++) {
                for (int j = 0; j < dim; j++) {
                    double d = 0;
                    for (int k = 0; k < r; k++) {
                        d += (double) b[j * r + k] * a[k * vocab + t];
                    }
                    want[t * dim + j] = w[t * dim + j] + 1.5 * d;
                }
            }
            assertClose(want, ck.readFloats(embed + ".weight"), 1e-6, "embedding");
        }
        rejected(base, adapter("embed-mixed", "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":2,\"target_modules\":[\"embed_tokens\"]}",
                List.of(), List.of(
                SafetensorsWriter.TensorData.ofFloats("base_model.model." + embed + ".lora_embedding_A", DType.F32,
                        new long[] {r, vocab}, a),
                SafetensorsWriter.TensorData.ofFloats("base_model.model." + embed + ".lora_B.weight", DType.F32,
                        new long[] {dim, r}, b))), "mixes linear and embedding");
    }

    @Test
    void bf16BaseRoundsLikePeftMerge() throws IOException {
        SplittableRandom rnd = new SplittableRandom(8);
        int r = 2;
        Lora v = new Lora("model.layers.0.self_attn.v_proj", 4, 5, random(rnd, r * 5), random(rnd, 4 * r));
        java.nio.file.Path base = base("bf16", DType.BF16);
        java.nio.file.Path ad = adapter("bf16ad", config(r, 16, ""), List.of(v), List.of());
        try (Checkpoint b = Checkpoint.open(base.toString(), conf);
             Checkpoint ck = Checkpoint.open(base + "+" + ad, conf)) {
            float[] w = b.readFloats(V);
            float[] got = ck.readFloats(V);
            double[] exact = expected(w, v, r, 8, false);
            for (int i = 0; i < got.length; i++) {
                assertEquals(got[i], TensorCodec.bf16ToFloat(TensorCodec.floatToBf16(got[i])),
                        "result is a bf16 value");
                // One bf16 rounding of the float32 sum: within half a bf16 ulp of the exact value
                // (and a float32 rounding of it).
                double ulp = Math.ulp((float) Math.abs(exact[i])) * 65536;
                assertEquals(exact[i], got[i], ulp / 2 + Math.ulp((float) Math.abs(exact[i])) * 4, "element " + i);
            }
        }
        // A delta just over half a bf16 ulp of a weight whose last bit is even: rounded once, the
        // sum moves up a ulp; PEFT's merge before it upcast adapters (the delta rounded to bf16
        // first: exactly half a ulp, a tie, to even) would leave the weight as it was.
        try (Checkpoint b = Checkpoint.open(base.toString(), conf)) {
            float[] w = b.readFloats(V);
            int i = 0;
            while ((TensorCodec.floatToBf16(w[i]) & 1) != 0) {
                i++;
            }
            float halfUlp = Math.ulp(Math.abs(w[i])) * 65536 / 2;
            float[] a = new float[5];
            a[i % 5] = Math.copySign(halfUlp * (1 + 0x1p-12f), w[i]);
            float[] bv = new float[4];
            bv[i / 5] = 1;
            java.nio.file.Path tie = adapter("bf16tie", config(1, 1, ""),
                    List.of(new Lora("model.layers.0.self_attn.v_proj", 4, 5, a, bv)), List.of());
            try (Checkpoint ck = Checkpoint.open(base + "+" + tie, conf)) {
                assertEquals(w[i] + Math.copySign(2 * halfUlp, w[i]), ck.readFloats(V)[i], 0.0,
                        "w " + w[i] + " + " + a[i % 5]);
            }
        }
    }

    @Test
    void plusSplitsOnlyAtAnAdapterDirectory() throws IOException {
        java.nio.file.Path base = base("with+plus", DType.F32);
        try (Checkpoint ck = Checkpoint.open(base.toString(), conf)) {
            assertTrue(ck instanceof SafetensorsCheckpoint, "an existing path with '+' is a path");
        }
        SplittableRandom rnd = new SplittableRandom(9);
        Lora q = new Lora("model.layers.0.self_attn.q_proj", 6, 5, random(rnd, 5), random(rnd, 6));
        java.nio.file.Path ad = adapter("ad1", config(1, 1, ""), List.of(q), List.of());
        try (Checkpoint ck = Checkpoint.open(base + "+" + ad, conf)) {
            assertTrue(ck instanceof LoraCheckpoint);
            assertEquals(base + "+" + ad, ck.location());
        }
        BadInputException e = assertThrows(BadInputException.class,
                () -> Checkpoint.open(base + "+" + tmp.resolve("nothere"), conf));
        assertTrue(e.getMessage().contains("not found"));
        // Alone, the adapter is not a model: its one .safetensors opened as one of lora_A/lora_B tensors.
        BadInputException alone = assertThrows(BadInputException.class, () -> Checkpoint.open(ad.toString(), conf));
        assertTrue(alone.getMessage().contains("is a PEFT adapter, not a model; name it as BASE+"), alone.getMessage());
        try (Checkpoint weights = Checkpoint.open(ad.resolve("adapter_model.safetensors").toString(), conf)) {
            assertEquals(2, weights.tensorNames().size(), "its weights file opens as such");
        }
    }

    private void rejected(java.nio.file.Path base, java.nio.file.Path ad, String... mentions) {
        BadInputException e = assertThrows(BadInputException.class,
                () -> Checkpoint.open(base + "+" + ad, conf).close());
        for (String m : mentions) {
            assertTrue(e.getMessage().contains(m), "'" + e.getMessage() + "' names " + m);
        }
    }

    @Test
    void mismatchesAndUnsupportedAdaptersAreRefused() throws IOException {
        SplittableRandom rnd = new SplittableRandom(10);
        java.nio.file.Path base = base("base3", DType.F32);
        Lora wrongShape = new Lora("model.layers.0.self_attn.q_proj", 8, 5, random(rnd, 10), random(rnd, 16));
        rejected(base, adapter("shape", config(2, 2, ""), List.of(wrongShape), List.of()),
                "q_proj", "[8, 5]", "[6, 5]");
        Lora absent = new Lora("model.layers.9.self_attn.q_proj", 6, 5, random(rnd, 10), random(rnd, 12));
        rejected(base, adapter("absent", config(2, 2, ""), List.of(absent), List.of()),
                "model.layers.9.self_attn.q_proj.weight");
        Lora untargeted = new Lora("model.layers.0.self_attn.k_proj", 6, 5, random(rnd, 10), random(rnd, 12));
        rejected(base, adapter("untargeted", config(2, 2, ""), List.of(untargeted), List.of()),
                "k_proj", "target_modules");
        Lora q = new Lora("model.layers.0.self_attn.q_proj", 6, 5, random(rnd, 10), random(rnd, 12));
        rejected(base, adapter("rank", config(3, 2, ""), List.of(q), List.of()), "rank 3");
        rejected(base, adapter("dora", config(2, 2, ",\"use_dora\":true"), List.of(q), List.of()), "DoRA");
        rejected(base, adapter("embed", config(2, 2, ""), List.of(q), List.of(
                SafetensorsWriter.TensorData.ofFloats("base_model.model.model.embed_tokens.lora_embedding_A",
                        DType.F32, new long[] {2, 8}, new float[16]))), "embedding");
        rejected(base, adapter("onlyA", config(2, 2, ""), List.of(), List.of(
                SafetensorsWriter.TensorData.ofFloats("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
                        DType.F32, new long[] {2, 5}, new float[10]))), "q_proj", "no lora_B");
        rejected(base, adapter("full", config(2, 2, ""), List.of(q), List.of(
                SafetensorsWriter.TensorData.ofFloats("base_model.model.lm_head.weight",
                        DType.F32, new long[] {2}, new float[2]))), "lm_head", "modules_to_save");
        rejected(base, adapter("regex", "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":2,\"target_modules\":\".*\\\\.v_proj\"}",
                List.of(q), List.of()), "q_proj", "target_modules");
    }

    /**
     * PEFT adapts a module only where its config's {@code target_modules}, {@code exclude_modules},
     * {@code modules_to_save}, {@code layers_to_transform} and {@code layers_pattern} let it
     * ({@code check_target_module_exists}); it leaves any other module's factors unloaded. Those are
     * refused, naming the module and the field, and the ones it adapts read as before.
     */
    @Test
    void factorsOfModulesPeftWouldNotAdaptAreRefused() throws IOException {
        SplittableRandom rnd = new SplittableRandom(13);
        java.nio.file.Path base = base("base-targets", DType.F32);
        Lora q = new Lora("model.layers.0.self_attn.q_proj", 6, 5, random(rnd, 10), random(rnd, 12));
        String[][] refused = {
            {",\"layers_to_transform\":[1]", "layer 0 is not in layers_to_transform [1]"},
            {",\"layers_to_transform\":1,\"layers_pattern\":\"layers\"", "layer 0 is not in layers_to_transform [1]"},
            {",\"layers_to_transform\":[0],\"layers_pattern\":[\"h\",\"blocks\"]", "no layer index"},
            {",\"exclude_modules\":[\"q_proj\"]", "exclude_modules"},
            {",\"exclude_modules\":\".*\\\\.q_proj\"", "exclude_modules"},
            {",\"modules_to_save\":[\"self_attn\"]", "modules_to_save [self_attn]"},
        };
        for (String[] c : refused) {
            rejected(base, adapter("targets-" + Math.abs(c[0].hashCode()), config(2, 2, c[0]), List.of(q), List.of()),
                    "model.layers.0.self_attn.q_proj", c[1], "adapter_config.json");
        }
        rejected(base, adapter("layers-type", config(2, 2, ",\"layers_to_transform\":\"zero\""), List.of(q), List.of()),
                "adapter_config.json", "layers_to_transform must be a layer index or a list of them (got \"zero\")");
        String allLinear = "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":2,\"target_modules\":\"ALL-LINEAR\"}";
        Lora head = new Lora("lm_head", 6, 5, random(rnd, 10), random(rnd, 12));
        rejected(base, adapter("all-linear-head", allLinear, List.of(head), List.of()),
                "'lm_head'", "linear layers but the output head");
        String[] adapted = {
            ",\"layers_to_transform\":[0, 3]",
            ",\"layers_to_transform\":0,\"layers_pattern\":[\"h\",\"layers\"]",
            ",\"layers_to_transform\":[]",
            ",\"exclude_modules\":[\"v_proj\"],\"modules_to_save\":[\"norm\"]",
        };
        try (Checkpoint b = Checkpoint.open(base.toString(), conf)) {
            double[] want = expected(b.readFloats(Q), q, 2, 1.0, false);
            for (String extra : adapted) {
                java.nio.file.Path ad = adapter("adapted-" + Math.abs(extra.hashCode()), config(2, 2, extra), List.of(q), List.of());
                try (Checkpoint ck = Checkpoint.open(base + "+" + ad, conf)) {
                    assertClose(want, ck.readFloats(Q), 1e-6, extra);
                }
            }
            // A module named whole in target_modules is adapted whatever its layer, as in PEFT.
            java.nio.file.Path whole = adapter("whole-name", "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":2,"
                    + "\"target_modules\":[\"model.layers.0.self_attn.q_proj\"],\"layers_to_transform\":[5]}",
                    List.of(q), List.of());
            try (Checkpoint ck = Checkpoint.open(base + "+" + whole, conf)) {
                assertClose(want, ck.readFloats(Q), 1e-6, "named whole");
            }
            java.nio.file.Path linear = adapter("all-linear", allLinear, List.of(q), List.of());
            try (Checkpoint ck = Checkpoint.open(base + "+" + linear, conf)) {
                assertClose(want, ck.readFloats(Q), 1e-6, "all-linear");
            }
        }
    }

    /**
     * As in PEFT, the base model's layer decides the layout, not the config's {@code fan_in_fan_out}:
     * an {@code nn.Linear} (a Llama) reads {@code W + s B A} even where the flag is set, a
     * {@code Conv1D} (a GPT-2) reads {@code W + s (B A)^T} even where it is not. Without the base's
     * {@code config.json} the flag decides.
     */
    @Test
    void theBaseModelsLayerDecidesTheLayoutAsInPeft() throws IOException {
        SplittableRandom rnd = new SplittableRandom(14);
        int r = 2;
        Lora q = new Lora("model.layers.0.self_attn.q_proj", 6, 5, random(rnd, r * 5), random(rnd, 6 * r));
        Lora fc = new Lora("transformer.h.0.mlp.c_fc", 7, 5, random(rnd, r * 5), random(rnd, 7 * r));
        java.nio.file.Path llama = base("llama", DType.F32);
        Files.writeString(llama.resolve("config.json"), "{\"model_type\":\"llama\"}");
        java.nio.file.Path gpt2 = base("gpt2", DType.F32);
        Files.writeString(gpt2.resolve("config.json"), "{\"model_type\":\"gpt2\"}");
        java.nio.file.Path flagged = adapter("flag-set", config(r, 4, ",\"fan_in_fan_out\":true"), List.of(q), List.of());
        java.nio.file.Path unflagged = adapter("flag-unset", config(r, 4, ""), List.of(fc), List.of());
        try (Checkpoint b = Checkpoint.open(llama.toString(), conf);
             Checkpoint ck = Checkpoint.open(llama + "+" + flagged, conf)) {
            assertClose(expected(b.readFloats(Q), q, r, 2.0, false), ck.readFloats(Q), 1e-6, "nn.Linear");
        }
        try (Checkpoint b = Checkpoint.open(gpt2.toString(), conf);
             Checkpoint ck = Checkpoint.open(gpt2 + "+" + unflagged, conf)) {
            assertClose(expected(b.readFloats(FC), fc, r, 2.0, true), ck.readFloats(FC), 1e-6, "Conv1D");
        }
        rejected(base("no-config", DType.F32), flagged, "q_proj", "[5, 6]", "[6, 5]");
    }

    @Test
    void adapterConfigErrorsNameTheFileAndTheField() throws IOException {
        java.nio.file.Path base = base("base-config-errors", DType.F32);
        SplittableRandom rnd = new SplittableRandom(15);
        Lora q = new Lora("model.layers.0.self_attn.q_proj", 6, 5, random(rnd, 10), random(rnd, 12));
        rejected(base, adapter("huge-rank", config(2, 2, ",\"rank_pattern\":{\"q_proj\":4294967298}"), List.of(q),
                List.of()), "adapter_config.json", "rank_pattern entry 'q_proj'", "positive integer");
        rejected(base, adapter("bad-key", config(2, 2, ",\"alpha_pattern\":{\"q_proj[\":3}"), List.of(q),
                List.of()), "adapter_config.json", "alpha_pattern key 'q_proj['", "regular expression");
        rejected(base, adapter("no-type", config(2, 2, "").replace("\"peft_type\":\"LORA\",", ""), List.of(q),
                List.of()), "adapter_config.json", "missing peft_type");
    }

    /**
     * Seeded mutations of a valid adapter's {@code adapter_config.json} (a value replaced by another
     * JSON value, a character inserted or deleted): each {@code BASE+ADAPTER} must open and read every
     * tensor, or fail as one-line bad input naming the adapter; never a class cast, a null pointer or
     * an arithmetic error from a rank of 0.
     */
    @Test
    void mutatedAdapterConfigsReadOrFailCleanly() throws IOException {
        SplittableRandom rnd = new SplittableRandom(12);
        java.nio.file.Path base = base("base-fuzz", DType.F32);
        Lora q = new Lora("model.layers.0.self_attn.q_proj", 6, 5, random(rnd, 10), random(rnd, 12));
        String valid = config(2, 4, ",\"fan_in_fan_out\":false,\"use_rslora\":false,\"modules_to_save\":null,"
                + "\"layers_to_transform\":null,\"rank_pattern\":{},\"alpha_pattern\":{},\"lora_dropout\":0.05");
        String[] values = {"0", "-1", "2.5", "1e400", "\"x\"", "null", "true", "[]", "{}", "[1, \"q\"]",
            "{\"q_proj\": \"x\"}", "9223372036854775807", "\"\\u0000\""};
        java.nio.file.Path ad = adapter("fuzz", valid, List.of(q), List.of());
        int opened = 0;
        for (int c = 0; c < 1500; c++) {
            StringBuilder json = new StringBuilder(valid);
            if (rnd.nextBoolean()) {
                int colon = nthIndexOf(valid, ':', rnd.nextInt(count(valid, ':')));
                int end = colon + 1;
                int depth = 0;
                while (end < json.length() && !(depth == 0 && (json.charAt(end) == ',' || json.charAt(end) == '}'))) {
                    depth += json.charAt(end) == '[' || json.charAt(end) == '{' ? 1
                            : json.charAt(end) == ']' || json.charAt(end) == '}' ? -1 : 0;
                    end++;
                }
                json.replace(colon + 1, end, values[rnd.nextInt(values.length)]);
            } else {
                int at = rnd.nextInt(json.length());
                if (rnd.nextBoolean()) {
                    json.deleteCharAt(at);
                } else {
                    String pool = "{}[],:\"0x";
                    json.insert(at, pool.charAt(rnd.nextInt(pool.length())));
                }
            }
            Files.writeString(ad.resolve("adapter_config.json"), json.toString());
            try (Checkpoint ck = Checkpoint.open(base + "+" + ad, conf)) {
                for (String name : ck.tensorNames()) {
                    assertEquals(ck.info(name).numElements(), ck.readFloats(name).length, name);
                }
                opened++;
            } catch (BadInputException e) {
                assertTrue(e.getMessage().contains("fuzz"), e.getMessage() + " names the adapter: " + json);
                assertEquals(1, e.getMessage().lines().count(), e.getMessage());
            } catch (RuntimeException e) {
                throw new AssertionError("not a bad-input error for " + json, e);
            }
        }
        assertTrue(opened > 0 && opened < 1500, opened + " opened");
    }

    private static int count(String s, char c) {
        return (int) s.chars().filter(x -> x == c).count();
    }

    private static int nthIndexOf(String s, char c, int n) {
        int at = -1;
        for (int i = 0; i <= n; i++) {
            at = s.indexOf(c, at + 1);
        }
        return at;
    }
}
