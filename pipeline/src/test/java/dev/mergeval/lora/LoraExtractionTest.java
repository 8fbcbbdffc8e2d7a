package dev.mergeval.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.DType;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.SafetensorsWriter;
import dev.mergeval.checkpoint.TensorInfo;
import dev.mergeval.checkpoint.WrittenOver;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.Progress;
import dev.mergeval.common.TruncatedSvd;
import dev.mergeval.provenance.LoraAdapterProvenance;
import dev.mergeval.provenance.Provenance;
import dev.mergeval.runtime.TestModels;
import dev.mergeval.runtime.TinyModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.ejml.data.DMatrixRMaj;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code extract-lora} on the toy models (aligned vs its fine-tune) and on generated models with a
 * known low-rank difference: the adapter, loaded as {@code BASE+ADAPTER}, is BASE plus the rank-R
 * truncated SVD of the difference (computed here independently), FT itself at full rank, with an
 * error that falls as R grows, and has the names and config PEFT reads.
 */
class LoraExtractionTest {

    @TempDir
    Path tmp;

    final Configuration conf = new Configuration();

    private static final LoraExtraction.Selection EMBED_LORA = LoraExtraction.Selection.DEFAULT.withEmbedLora(true);
    final Path toy = TestModels.projectRoot().resolve("models/toy");

    private LoraAdapterProvenance extract(LoraExtraction.Request r) throws IOException {
        LoraExtraction.run(r, new LocalExtractExecutor(2, conf, Progress.NONE), conf);
        return Provenance.read(Files.readString(Path.of(r.outDir(), "mergeval_provenance.json")),
                LoraAdapterProvenance.class);
    }

    /** Executors run in their own working directories: the plan they get names the models absolutely. */
    @Test
    void thePlanNamesRelativeModelsAbsolutely() {
        Path cwd = Path.of("").toAbsolutePath();
        String ft = cwd.relativize(toy.resolve("finetuned").toAbsolutePath()).toString();
        String base = cwd.relativize(toy.resolve("aligned").toAbsolutePath()).toString();
        ExtractionPlan plan = LoraExtraction.plan(LoraExtraction.Request.of(ft, base, 4, tmp.resolve("a").toString()), conf);
        assertEquals(toy.resolve("finetuned").toAbsolutePath().normalize().toUri().getPath(),
                new org.apache.hadoop.fs.Path(plan.model()).toUri().getPath().replaceAll("/?$", "/"));
        assertEquals(toy.resolve("aligned").toAbsolutePath().normalize().toUri().getPath(),
                new org.apache.hadoop.fs.Path(plan.baseModel()).toUri().getPath().replaceAll("/?$", "/"));
    }

    @Test
    void theAdapterIsBasePlusTheTruncatedSvdOfTheDifference() throws IOException {
        String ft = toy.resolve("finetuned").toString();
        String base = toy.resolve("aligned").toString();
        double previous = Double.POSITIVE_INFINITY;
        for (int rank : new int[] {2, 8, 32}) {
            Path out = tmp.resolve("r" + rank);
            LoraAdapterProvenance p = extract(LoraExtraction.Request.of(ft, base, rank, out.toString()));
            assertTrue(p.totals().relativeError() < previous, "error falls as R grows: " + p.totals());
            previous = p.totals().relativeError();
            try (Checkpoint f = Checkpoint.open(ft, conf); Checkpoint b = Checkpoint.open(base, conf);
                 Checkpoint loaded = Checkpoint.open(base + "+" + out, conf)) {
                for (String name : f.tensorNames()) {
                    float[] fw = f.readFloats(name);
                    float[] bw = b.readFloats(name);
                    float[] lw = loaded.readFloats(name);
                    TensorInfo t = f.info(name);
                    if (t.rank() != 2 || name.contains("embed")) {
                        assertEquals(fw.length, lw.length);
                        for (int i = 0; i < fw.length; i++) {
                            assertEquals(bw[i], lw[i], 0, name + " is not an extracted matrix: base's value");
                        }
                        continue;
                    }
                    int rows = (int) t.dim(0);
                    int cols = (int) t.dim(1);
                    double[] d = new double[fw.length];
                    for (int i = 0; i < d.length; i++) {
                        d[i] = (double) fw[i] - bw[i];
                    }
                    TruncatedSvd.Factors svd = TruncatedSvd.exact(DMatrixRMaj.wrap(rows, cols, d.clone()));
                    int k = Math.min(rank, Math.min(rows, cols));
                    double err2 = 0;
                    double norm2 = 0;
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            double approx = 0;
                            for (int i = 0; i < k; i++) {
                                approx += svd.left().get(r, i) * svd.s()[i] * svd.right().get(c, i);
                            }
                            double want = bw[r * cols + c] + approx;
                            assertEquals(want, lw[r * cols + c], 2e-6 * (1 + Math.abs(want)), name + " [" + r + "," + c + "]");
                            err2 += (d[r * cols + c] - approx) * (d[r * cols + c] - approx);
                            norm2 += d[r * cols + c] * d[r * cols + c];
                        }
                    }
                    String module = name.substring(0, name.length() - ".weight".length());
                    LoraAdapterProvenance.Module m = p.modules().get(module);
                    assertEquals(k, m.rank(), name);
                    assertEquals(Math.sqrt(err2 / norm2), m.relativeError(), 1e-5, name + " relative error");
                }
            }
        }
    }

    @Test
    void atFullRankBasePlusAdapterIsTheFineTune() throws IOException {
        String ft = toy.resolve("finetuned").toString();
        String base = toy.resolve("aligned").toString();
        Path out = tmp.resolve("full");
        LoraAdapterProvenance p = extract(LoraExtraction.Request.of(ft, base, 1000, out.toString()));
        assertEquals(64, p.adapter().r(), "no matrix has a rank above 64");
        try (Checkpoint f = Checkpoint.open(ft, conf); Checkpoint loaded = Checkpoint.open(base + "+" + out, conf)) {
            for (String name : f.tensorNames()) {
                float[] want = f.readFloats(name);
                float[] got = loaded.readFloats(name);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-6 * (1 + Math.abs(want[i])), name + "[" + i + "]");
                }
            }
        }
    }

    /**
     * {@code FT - BASE} is formed exactly from the stored values, so no part of it is rounding noise:
     * a BF16 fine-tune with a large rank-1 change of rows 0-7 (s_0 near 16 * sqrt(8 * 32) = 256) and
     * three one-ulp changes in rows 8-15 (singular values near 1e-6 s_0, below the cut at float32's
     * epsilon that dropped them before) keeps every part at full rank, and {@code BASE+ADAPTER} is FT's
     * BF16 values exactly; the rank recorded, the same each run, is D's rank in double precision.
     */
    @Test
    void atFullRankSmallGenuineChangesAreKeptAndABf16PairGivesFtsBytes() throws IOException {
        Path base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), DType.BF16, 2, Long.MAX_VALUE);
        String q = "model.layers.0.self_attn.q_proj.weight";
        SplittableRandom rnd = new SplittableRandom(2);
        Path ft = editedBase(base, "ft", t -> {
            if (!t.name().equals(q)) {
                return t;
            }
            float[] v = t.values().clone();
            int cols = (int) t.shape()[1];
            float[] u = new float[8];
            float[] w = new float[cols];
            for (int i = 0; i < 8; i++) {
                u[i] = rnd.nextBoolean() ? 1 : -1;
            }
            for (int j = 0; j < cols; j++) {
                w[j] = rnd.nextBoolean() ? 1 : -1;
            }
            for (int i = 0; i < 8; i++) {
                for (int j = 0; j < cols; j++) {
                    v[i * cols + j] += 16 * u[i] * w[j];
                }
            }
            dev.mergeval.checkpoint.TensorCodec.roundTo(DType.BF16, v, 0, v.length);
            for (int[] at : new int[][] {{9, 3}, {11, 17}, {14, 28}}) {
                int i = at[0] * cols + at[1];
                v[i] = Float.intBitsToFloat(Float.floatToIntBits(v[i]) + 0x10000); // one BF16 ulp
            }
            return new Read(t.name(), t.dtype(), t.shape(), v);
        });
        int rankOfD;
        try (Checkpoint f = Checkpoint.open(ft.toString(), conf); Checkpoint b = Checkpoint.open(base.toString(), conf)) {
            float[] fw = f.readFloats(q);
            float[] bw = b.readFloats(q);
            double[] d = new double[fw.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = (double) fw[i] - bw[i];
            }
            double[] s = TruncatedSvd.exact(DMatrixRMaj.wrap(32, 32, d)).s();
            rankOfD = (int) java.util.Arrays.stream(s).filter(x -> x > s[0] * 1e-10).count();
            assertTrue(s[rankOfD - 1] < s[0] * 32 * 0x1.0p-23, "the one-ulp changes lie below float32's epsilon of s_0");
        }
        assertEquals(11, rankOfD, "8 rows of the rounded rank-1 change, and 3 one-ulp changes");
        Path out = tmp.resolve("adapter");
        for (int run = 0; run < 2; run++) {
            LoraAdapterProvenance p = extract(LoraExtraction.Request.of(ft.toString(), base.toString(), 64,
                    out.toString()).withOverwrite(true));
            assertEquals(rankOfD, p.modules().get("model.layers.0.self_attn.q_proj").rank(), "D's own rank, each run");
        }
        try (Checkpoint f = Checkpoint.open(ft.toString(), conf);
             Checkpoint loaded = Checkpoint.open(base + "+" + out, conf)) {
            for (String name : f.tensorNames()) {
                assertArrayEquals(f.readFloats(name), loaded.readFloats(name), name + ": FT's BF16 values exactly");
            }
        }
    }

    /**
     * A generated base; FT differs by a rank-2 matrix in one projection and by a changed norm, and
     * with {@code embedding} by a full-rank change of the input embeddings {@code [64, 32]}. The
     * projection is rewritten in BASE on a grid of 2^-12 and the rank-2 change is on one of 2^-21, so
     * that in float32 {@code FT - BASE} is exactly of rank 2 (an F32 FT rounded to float32 would differ by
     * a full-rank part too, which extract-lora keeps: it is FT's).
     */
    private Path[] generated(DType dtype, boolean embedding) throws IOException {
        Path base = TinyModels.write(tmp.resolve("base"), TinyModels.llamaConfig(), dtype, 7, Long.MAX_VALUE);
        Path ft = tmp.resolve("ft");
        Files.createDirectories(ft);
        for (Path f : Files.list(base).toList()) {
            if (!f.getFileName().toString().endsWith(".safetensors")) {
                Files.copy(f, ft.resolve(f.getFileName()));
            }
        }
        SplittableRandom rnd = new SplittableRandom(11);
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        List<SafetensorsWriter.TensorData> baseTensors = new ArrayList<>();
        try (Checkpoint b = Checkpoint.open(base.toString(), conf)) {
            for (String name : b.tensorNames()) {
                TensorInfo t = b.info(name);
                float[] v = b.readFloats(name);
                if (name.equals("model.layers.1.self_attn.q_proj.weight")) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] = Math.round(v[i] * 4096f) / 4096f;
                    }
                    baseTensors.add(SafetensorsWriter.TensorData.ofFloats(name, t.dtype(), t.shape(), v.clone()));
                    int rows = (int) t.dim(0);
                    int cols = (int) t.dim(1);
                    for (int k = 0; k < 2; k++) {
                        double[] u = new double[rows];
                        double[] w = new double[cols];
                        for (int i = 0; i < rows; i++) {
                            u[i] = Math.rint(rnd.nextDouble(-1, 1) * 1024) / 1024;
                        }
                        for (int j = 0; j < cols; j++) {
                            w[j] = Math.rint(rnd.nextDouble(-1, 1) * 1024) / 1024;
                        }
                        for (int i = 0; i < rows; i++) {
                            for (int j = 0; j < cols; j++) {
                                v[i * cols + j] += (float) (0.5 * u[i] * w[j]);
                            }
                        }
                    }
                } else if (embedding && name.equals("model.embed_tokens.weight")) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] += (float) rnd.nextDouble(-0.05, 0.05);
                    }
                } else if (name.equals("model.norm.weight")) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] += 0.25f;
                    }
                }
                tensors.add(SafetensorsWriter.TensorData.ofFloats(name, t.dtype(), t.shape(), v));
                if (!name.equals("model.layers.1.self_attn.q_proj.weight")) {
                    baseTensors.add(SafetensorsWriter.TensorData.ofFloats(name, t.dtype(), t.shape(),
                            b.readFloats(name)));
                }
            }
        }
        SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(ft.resolve("model.safetensors")), tensors,
                Map.of("format", "pt"));
        try (var files = Files.list(base)) {
            assertEquals(List.of(base.resolve("model.safetensors")),
                    files.filter(f -> f.toString().endsWith(".safetensors")).toList());
        }
        SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(base.resolve("model.safetensors")), baseTensors,
                Map.of("format", "pt"));
        return new Path[] {base, ft};
    }

    @Test
    void aLowRankDifferenceKeepsItsRankAndOtherTensorsAreSavedWhole() throws IOException {
        Path[] m = generated(DType.F32, false);
        Path out = tmp.resolve("adapter");
        LoraAdapterProvenance p = extract(LoraExtraction.Request.of(m[1].toString(), m[0].toString(), 8,
                out.toString()));
        assertEquals(1, p.modules().size(), "only q_proj of layer 1 differs: " + p.modules().keySet());
        LoraAdapterProvenance.Module q = p.modules().get("model.layers.1.self_attn.q_proj");
        assertEquals(2, q.rank(), "the difference has rank 2, below --max-rank 8");
        assertEquals(2, p.adapter().r());
        assertTrue(q.relativeError() < 1e-6, "rank 2 captures it: " + q.relativeError());
        assertEquals(List.of("model.norm"), p.adapter().modulesToSave());
        assertEquals("saved", p.whole().get("model.norm.weight").action());

        JsonNode cfg = Mappers.JSON.readTree(Files.readString(out.resolve("adapter_config.json")));
        assertEquals("LORA", cfg.get("peft_type").asText());
        assertEquals("CAUSAL_LM", cfg.get("task_type").asText());
        assertEquals(2, cfg.get("r").asInt());
        assertEquals(2, cfg.get("lora_alpha").asInt());
        assertEquals("q_proj", cfg.get("target_modules").get(0).asText());
        assertEquals("model.norm", cfg.get("modules_to_save").get(0).asText());
        assertEquals(m[0].toString(), cfg.get("base_model_name_or_path").asText());
        try (Checkpoint w = Checkpoint.open(out.resolve("adapter_model.safetensors").toString(), conf)) {
            assertEquals(List.of("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
                    "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
                    "base_model.model.model.norm.weight"), w.tensorNames().stream().sorted().toList());
            assertEquals(List.of(2L, 32L), List.of(w.info("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight")
                    .shape()[0], w.info("base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight").shape()[1]));
            assertEquals(32L, w.info("base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight").shape()[0]);
        }
        try (Checkpoint f = Checkpoint.open(m[1].toString(), conf);
             Checkpoint w = Checkpoint.open(out.resolve("adapter_model.safetensors").toString(), conf)) {
            int bytes = Math.toIntExact(f.info("model.norm.weight").byteLength());
            assertArrayEquals(f.readRaw("model.norm.weight", 0, bytes),
                    w.readRaw("base_model.model.model.norm.weight", 0, bytes), "saved whole: the fine-tune's bytes");
        }
        try (Checkpoint f = Checkpoint.open(m[1].toString(), conf);
             Checkpoint loaded = Checkpoint.open(m[0] + "+" + out, conf)) {
            for (String name : f.tensorNames()) {
                float[] want = f.readFloats(name);
                float[] got = loaded.readFloats(name);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-6 * (1 + Math.abs(want[i])), name + "[" + i + "]");
                }
            }
        }

        Path reported = tmp.resolve("reported");
        LoraAdapterProvenance r = extract(new LoraExtraction.Request(m[1].toString(), m[0].toString(), 8,
                reported.toString(), false, ExtractionPlan.Svd.RANDOMIZED, 1, LoraExtraction.Other.REPORT,
                LoraExtraction.Selection.DEFAULT,
                ExtractionPlan.Factors.DEFAULT, 0));
        assertEquals("reported", r.whole().get("model.norm.weight").action());
        assertTrue(r.adapter().modulesToSave().isEmpty());
        assertEquals("randomized", r.modules().get("model.layers.1.self_attn.q_proj").svd());
        assertTrue(r.totals().relativeError() < 1e-6, "randomized SVD finds a rank-2 difference: " + r.totals());
    }

    @Test
    void embedLoraWritesPeftEmbeddingFactorsOfTheTruncatedSvd() throws IOException {
        Path[] m = generated(DType.F32, true);
        String embed = "model.embed_tokens";
        int rank = 4;
        Path out = tmp.resolve("embed");
        LoraAdapterProvenance p = extract(LoraExtraction.Request.of(m[1].toString(), m[0].toString(), rank,
                out.toString()).withSelection(EMBED_LORA));
        assertEquals("embedding", p.modules().get(embed).lora());
        assertEquals("linear", p.modules().get("model.layers.1.self_attn.q_proj").lora());
        assertEquals(rank, p.modules().get(embed).rank());
        assertFalse(p.adapter().modulesToSave().contains(embed), "decomposed, not saved whole");
        JsonNode cfg = Mappers.JSON.readTree(Files.readString(out.resolve("adapter_config.json")));
        assertTrue(cfg.get("target_modules").toString().contains("\"embed_tokens\""), cfg.toString());
        float[] a;
        float[] b;
        try (Checkpoint w = Checkpoint.open(out.resolve("adapter_model.safetensors").toString(), conf)) {
            assertArrayEquals(new long[] {rank, 64}, w.info("base_model.model." + embed + ".lora_embedding_A").shape());
            assertArrayEquals(new long[] {32, rank}, w.info("base_model.model." + embed + ".lora_embedding_B").shape());
            a = w.readFloats("base_model.model." + embed + ".lora_embedding_A");
            b = w.readFloats("base_model.model." + embed + ".lora_embedding_B");
        }
        try (Checkpoint f = Checkpoint.open(m[1].toString(), conf);
             Checkpoint bm = Checkpoint.open(m[0].toString(), conf);
             Checkpoint loaded = Checkpoint.open(m[0] + "+" + out, conf)) {
            float[] fw = f.readFloats(embed + ".weight");
            float[] bw = bm.readFloats(embed + ".weight");
            float[] lw = loaded.readFloats(embed + ".weight");
            double[] d = new double[fw.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = (double) fw[i] - bw[i];
            }
            TruncatedSvd.Factors svd = TruncatedSvd.exact(DMatrixRMaj.wrap(64, 32, d.clone()));
            for (int t = 0; t < 64; t++) {
                for (int j = 0; j < 32; j++) {
                    double approx = 0;
                    double peft = 0;
                    for (int i = 0; i < rank; i++) {
                        approx += svd.left().get(t, i) * svd.s()[i] * svd.right().get(j, i);
                        // PEFT's embedding LoRA: token t's row gains (alpha / r) * B[j, :] . A[:, t], alpha = r.
                        peft += (double) b[j * rank + i] * a[i * 64 + t];
                    }
                    String at = embed + " [" + t + "," + j + "]";
                    assertEquals(approx, peft, 1e-5, at + ": B A^T is the rank-" + rank + " truncated SVD of D");
                    assertEquals(bw[t * 32 + j] + approx, lw[t * 32 + j], 2e-6, at + " loaded as BASE+ADAPTER");
                }
            }
        }
        Path full = tmp.resolve("embed-full");
        extract(LoraExtraction.Request.of(m[1].toString(), m[0].toString(), 1000, full.toString())
                .withSelection(EMBED_LORA));
        try (Checkpoint f = Checkpoint.open(m[1].toString(), conf);
             Checkpoint loaded = Checkpoint.open(m[0] + "+" + full, conf)) {
            float[] want = f.readFloats(embed + ".weight");
            float[] got = loaded.readFloats(embed + ".weight");
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-6 * (1 + Math.abs(want[i])), embed + "[" + i + "] at full rank");
            }
        }
        Path saved = tmp.resolve("embed-saved");
        LoraAdapterProvenance s = extract(LoraExtraction.Request.of(m[1].toString(), m[0].toString(), rank,
                saved.toString()));
        assertFalse(s.modules().containsKey(embed));
        assertEquals("saved", s.whole().get(embed + ".weight").action(), "without --embed-lora: saved whole");
    }

    /**
     * An adapter written over the fine-tune it is extracted from (or above it) would delete that
     * model: refused even with --overwrite, the model untouched.
     */
    @Test
    void anOutputOverAnInputModelIsRefused() throws IOException {
        Path[] m = generated(DType.F32, true);
        byte[] before = Files.readAllBytes(m[1].resolve("model.safetensors"));
        for (Path over : List.of(m[1], m[1].getParent())) {
            BadInputException e = assertThrows(BadInputException.class, () -> extract(LoraExtraction.Request.of(
                    m[1].toString(), m[0].toString(), 4, over.toString()).withOverwrite(true)));
            assertTrue(e.getMessage().contains("which this job reads (--"), e.getMessage());
        }
        assertArrayEquals(before, Files.readAllBytes(m[1].resolve("model.safetensors")));
    }

    @Test
    void theAdapterHasMergekitsCardWithTheCommandThatMadeIt() throws IOException {
        Path[] m = generated(DType.F32, true);
        Path out = tmp.resolve("my adapter");
        LoraExtraction.Request r = LoraExtraction.Request.of(m[1].toString(), m[0].toString(), 4, out.toString())
                .withSelection(new LoraExtraction.Selection(false, true, List.of("lm_head"), List.of(),
                        List.of("it's (norm)")))
                .withFactors(new ExtractionPlan.Factors(0, false));
        assertEquals("mergeval extract-lora --model " + m[1] + " --base-model " + m[0] + " --max-rank 4 --embed-lora"
                + " --save-module lm_head --exclude-regex 'it'\\''s (norm)' --no-distribute-scale '" + out + "'",
                r.commandLine());
        extract(r);
        String card = Files.readString(out.resolve("README.md"));
        assertTrue(card.startsWith("---\nbase_model: []\nlibrary_name: peft\n"), card);
        assertTrue(card.contains("\n# my adapter\n"), card);
        assertTrue(card.contains("extracted from " + m[1] + " and uses " + m[0] + " as a base."), card);
        assertTrue(card.contains("```sh\n" + r.commandLine() + "\n```"), card);
    }

    @Test
    void mergekitsSelectionAndFactorOptions() throws IOException {
        Path[] m = generated(DType.F32, true);
        String ft = m[1].toString();
        String base = m[0].toString();
        String q = "model.layers.1.self_attn.q_proj";
        LoraExtraction.Request defaults = LoraExtraction.Request.of(ft, base, 8, tmp.resolve("x").toString());

        // --include-regex: only layer 1 takes part, so the changed final norm is not even compared.
        LoraAdapterProvenance inc = extract(defaults.withSelection(new LoraExtraction.Selection(false, false, List.of(),
                List.of("layers\\.1\\."), List.of())).withOverwrite(true));
        assertEquals(List.of(q), List.copyOf(inc.modules().keySet()));
        assertTrue(inc.whole().isEmpty(), "model.norm is outside the included modules: " + inc.whole());
        // --exclude-regex: the norm and the embeddings take no part; q_proj still does.
        LoraAdapterProvenance exc = extract(defaults.withSelection(new LoraExtraction.Selection(false, false, List.of(),
                List.of(), List.of("norm$", "embed"))).withOverwrite(true));
        assertEquals(List.of(q), List.copyOf(exc.modules().keySet()));
        assertTrue(exc.whole().isEmpty(), exc.whole().toString());
        BadInputException bad = assertThrows(BadInputException.class, () -> extract(defaults.withSelection(
                new LoraExtraction.Selection(false, false, List.of(), List.of(), List.of("q_(")))));
        assertTrue(bad.getMessage().contains("--exclude-regex 'q_('"), bad.getMessage());

        // A fine-tune with added tokens: its larger embeddings are saved whole, as mergekit saves them, even
        // with --embed-lora; --exclude-regex leaves them out.
        Path resized = tmp.resolve("resized");
        Files.createDirectories(resized);
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        try (Checkpoint f = Checkpoint.open(ft, conf)) {
            for (String name : f.tensorNames()) {
                TensorInfo t = f.info(name);
                float[] v = f.readFloats(name);
                tensors.add(name.equals("model.embed_tokens.weight")
                        ? SafetensorsWriter.TensorData.ofFloats(name, t.dtype(), new long[] {72, 32},
                                java.util.Arrays.copyOf(v, 72 * 32))
                        : SafetensorsWriter.TensorData.ofFloats(name, t.dtype(), t.shape(), v));
            }
        }
        Files.copy(m[1].resolve("config.json"), resized.resolve("config.json"));
        SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(resized.resolve("model.safetensors")), tensors,
                Map.of("format", "pt"));
        LoraExtraction.Request addedTokens = LoraExtraction.Request.of(resized.toString(), base, 8,
                tmp.resolve("resized-adapter").toString());
        for (LoraExtraction.Selection selection : List.of(LoraExtraction.Selection.DEFAULT, EMBED_LORA)) {
            LoraAdapterProvenance added = extract(addedTokens.withSelection(selection).withOverwrite(true));
            assertEquals(List.of(q), List.copyOf(added.modules().keySet()));
            LoraAdapterProvenance.Whole embed = added.whole().get("model.embed_tokens.weight");
            assertEquals("saved", embed.action());
            assertEquals(List.of(72L, 32L), embed.shape());
            assertTrue(added.adapter().modulesToSave().contains("model.embed_tokens"), added.adapter().toString());
            try (Checkpoint adapter = Checkpoint.open(tmp.resolve("resized-adapter/adapter_model.safetensors")
                    .toString(), conf); Checkpoint f = Checkpoint.open(resized.toString(), conf)) {
                assertArrayEquals(f.readFloats("model.embed_tokens.weight"),
                        adapter.readFloats("base_model.model.model.embed_tokens.weight"));
            }
        }
        LoraAdapterProvenance skipped = extract(addedTokens.withSelection(new LoraExtraction.Selection(false, false,
                List.of(), List.of(), List.of("embed_tokens"))).withOverwrite(true));
        assertEquals(List.of(q), List.copyOf(skipped.modules().keySet()));

        // --save-module: q_proj saved whole even where other tensors are only reported.
        Path saved = tmp.resolve("saved");
        LoraAdapterProvenance sv = extract(new LoraExtraction.Request(ft, base, 8, saved.toString(), false,
                ExtractionPlan.Svd.EXACT, 1024, LoraExtraction.Other.REPORT, new LoraExtraction.Selection(false, true,
                List.of("q_proj"), List.of(), List.of()), ExtractionPlan.Factors.DEFAULT, 0));
        assertEquals(List.of("model.embed_tokens"), List.copyOf(sv.modules().keySet()));
        assertEquals("saved", sv.whole().get(q + ".weight").action());
        assertEquals("reported", sv.whole().get("model.norm.weight").action());
        assertEquals(List.of(q), sv.adapter().modulesToSave());

        // --sv-epsilon between q_proj's two singular values keeps one of them.
        double[] s;
        try (Checkpoint f = Checkpoint.open(ft, conf); Checkpoint b = Checkpoint.open(base, conf)) {
            float[] fw = f.readFloats(q + ".weight");
            float[] bw = b.readFloats(q + ".weight");
            double[] d = new double[fw.length];
            for (int i = 0; i < d.length; i++) {
                d[i] = (double) fw[i] - bw[i];
            }
            s = TruncatedSvd.exact(DMatrixRMaj.wrap(32, 32, d)).s();
        }
        LoraExtraction.Request onlyQ = defaults.withSelection(new LoraExtraction.Selection(false, false, List.of(),
                List.of("q_proj"), List.of())).withOverwrite(true);
        LoraAdapterProvenance eps = extract(onlyQ.withFactors(new ExtractionPlan.Factors((s[0] + s[1]) / 2, true)));
        assertEquals(1, eps.modules().get(q).rank());
        assertEquals(s[1] / Math.hypot(s[0], s[1]), eps.modules().get(q).relativeError(), 1e-5);
        bad = assertThrows(BadInputException.class,
                () -> extract(onlyQ.withFactors(new ExtractionPlan.Factors(2 * s[0], true))));
        assertTrue(bad.getMessage().contains("--sv-epsilon"), bad.getMessage());

        // --no-distribute-scale: B = U_k (orthonormal columns), A = S_k V_k^T; the same product.
        Path split = tmp.resolve("split");
        Path whole = tmp.resolve("whole");
        extract(onlyQ.withFactors(ExtractionPlan.Factors.DEFAULT).withOverwrite(false).withOutDir(split.toString()));
        extract(onlyQ.withFactors(new ExtractionPlan.Factors(0, false)).withOverwrite(false)
                .withOutDir(whole.toString()));
        try (Checkpoint a1 = Checkpoint.open(split.resolve("adapter_model.safetensors").toString(), conf);
             Checkpoint a2 = Checkpoint.open(whole.resolve("adapter_model.safetensors").toString(), conf)) {
            String pa = "base_model.model." + q + ".lora_A.weight";
            String pb = "base_model.model." + q + ".lora_B.weight";
            float[][] ab1 = {a1.readFloats(pa), a1.readFloats(pb)};
            float[][] ab2 = {a2.readFloats(pa), a2.readFloats(pb)};
            for (int i = 0; i < 2; i++) {
                double norm2 = 0;
                for (int r = 0; r < 32; r++) {
                    norm2 += (double) ab2[1][r * 2 + i] * ab2[1][r * 2 + i];
                }
                assertEquals(1.0, norm2, 1e-5, "column " + i + " of B = U_k is a unit vector");
            }
            for (int r = 0; r < 32; r++) {
                for (int c = 0; c < 32; c++) {
                    double p1 = 0;
                    double p2 = 0;
                    for (int i = 0; i < 2; i++) {
                        p1 += (double) ab1[1][r * 2 + i] * ab1[0][i * 32 + c];
                        p2 += (double) ab2[1][r * 2 + i] * ab2[0][i * 32 + c];
                    }
                    assertEquals(p1, p2, 1e-6, "B A at [" + r + "," + c + "]");
                }
            }
        }
    }

    /** A copy of {@code model} in {@code to} with an output head of its own: its embedding plus 0.5. */
    private Path untied(Path model, Path to) throws IOException {
        Files.createDirectories(to);
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        try (Checkpoint c = Checkpoint.open(model.toString(), conf)) {
            for (String name : c.tensorNames()) {
                tensors.add(SafetensorsWriter.TensorData.ofFloats(name, c.info(name).dtype(), c.info(name).shape(),
                        c.readFloats(name)));
            }
            float[] head = c.readFloats("model.embed_tokens.weight");
            for (int i = 0; i < head.length; i++) {
                head[i] += 0.5f;
            }
            TensorInfo e = c.info("model.embed_tokens.weight");
            tensors.add(SafetensorsWriter.TensorData.ofFloats("lm_head.weight", e.dtype(), e.shape(), head));
            Files.writeString(to.resolve("config.json"), c.config().deepCopy().put("tie_word_embeddings", false)
                    .toPrettyString());
        }
        SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(to.resolve("model.safetensors")), tensors,
                Map.of("format", "pt"));
        return to;
    }

    /**
     * One model ties its embeddings (no {@code lm_head.weight}), the other has a head: the tied
     * model's head is its embedding, as mergekit reads it, and the head is saved whole (FT's).
     */
    @Test
    void aTiedModelsHeadIsItsEmbedding() throws IOException {
        Path[] m = generated(DType.F32, true);
        Path ftHead = untied(m[1], tmp.resolve("ft-head"));
        Path baseHead = untied(m[0], tmp.resolve("base-head"));
        String[][] pairs = {{ftHead.toString(), m[0].toString()}, {m[1].toString(), baseHead.toString()}};
        for (String[] pair : pairs) {
            Path out = tmp.resolve("adapter-" + pair[0].substring(pair[0].lastIndexOf('/') + 1));
            LoraAdapterProvenance p = extract(LoraExtraction.Request.of(pair[0], pair[1], 4, out.toString()));
            LoraAdapterProvenance.Whole head = p.whole().get("lm_head.weight");
            assertEquals("saved", head.action(), pair[0]);
            try (Checkpoint ft = Checkpoint.open(pair[0], conf); Checkpoint base = Checkpoint.open(pair[1], conf);
                    Checkpoint adapter = Checkpoint.open(out.resolve("adapter_model.safetensors").toString(), conf)) {
                float[] ftHeadValues = ft.readFloats(ft.contains("lm_head.weight") ? "lm_head.weight"
                        : "model.embed_tokens.weight");
                float[] baseHeadValues = base.readFloats(base.contains("lm_head.weight") ? "lm_head.weight"
                        : "model.embed_tokens.weight");
                assertArrayEquals(ftHeadValues, adapter.readFloats("base_model.model.lm_head.weight"));
                double norm2 = 0;
                for (int i = 0; i < ftHeadValues.length; i++) {
                    double d = (double) ftHeadValues[i] - baseHeadValues[i];
                    norm2 += d * d;
                }
                assertEquals(Math.sqrt(norm2), head.deltaNorm(), 1e-9 * Math.sqrt(norm2));
            }
        }
    }

    /**
     * A Qwen2-style model (biased q, k, v projections, BF16): FT changes layer 1's q_proj weight (rank
     * 1) and bias, and k_proj's bias only. q_proj's bias goes in as its lora_B bias, not under
     * modules_to_save (where PEFT would take q_proj whole and drop its factors); k_proj, whose weight
     * is equal, is saved whole. BASE+ADAPTER gives FT's biases exactly, and at full rank every FT
     * byte; also scaled by scale-lora.
     */
    @Test
    void aDecomposedModulesBiasIsItsLoraBBias() throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("attention_bias", true);
        Path base = TinyModels.write(tmp.resolve("base"), config, DType.BF16, 5, Long.MAX_VALUE);
        Path ft = tmp.resolve("ft");
        Files.createDirectories(ft);
        Files.copy(base.resolve("config.json"), ft.resolve("config.json"));
        String q = "model.layers.1.self_attn.q_proj";
        String k = "model.layers.1.self_attn.k_proj";
        SplittableRandom rnd = new SplittableRandom(3);
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        try (Checkpoint b = Checkpoint.open(base.toString(), conf)) {
            assertTrue(b.contains(q + ".bias") && b.contains(k + ".bias"), "the layout has attention biases");
            for (String name : b.tensorNames()) {
                TensorInfo t = b.info(name);
                float[] v = b.readFloats(name);
                if (name.equals(q + ".weight")) {
                    int cols = (int) t.dim(1);
                    for (int i = 0; i < v.length; i++) {
                        v[i] += (float) (0.25 * Math.sin(i / cols + 1) * Math.cos(i % cols));
                    }
                } else if (name.equals(q + ".bias") || name.equals(k + ".bias")) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] += (float) rnd.nextDouble(-0.5, 0.5);
                    }
                }
                tensors.add(SafetensorsWriter.TensorData.ofFloats(name, t.dtype(), t.shape(), v));
            }
        }
        SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(ft.resolve("model.safetensors")), tensors,
                Map.of("format", "pt"));

        Path out = tmp.resolve("adapter");
        LoraAdapterProvenance p = extract(LoraExtraction.Request.of(ft.toString(), base.toString(), 4, out.toString()));
        assertEquals(List.of(q), List.copyOf(p.modules().keySet()));
        assertEquals(LoraExtraction.LORA_BIAS, p.whole().get(q + ".bias").action());
        assertEquals("saved", p.whole().get(k + ".bias").action());
        assertEquals(List.of(k), p.adapter().modulesToSave(), "q_proj is a LoRA target, not saved whole");
        JsonNode cfg = Mappers.JSON.readTree(Files.readString(out.resolve("adapter_config.json")));
        assertTrue(cfg.get("lora_bias").asBoolean(), cfg.toString());
        try (Checkpoint f = Checkpoint.open(ft.toString(), conf); Checkpoint b = Checkpoint.open(base.toString(), conf);
                Checkpoint w = Checkpoint.open(out.resolve("adapter_model.safetensors").toString(), conf)) {
            TensorInfo bias = w.info("base_model." + "model." + q + ".lora_B.bias");
            assertEquals(DType.F32, bias.dtype());
            float[] want = f.readFloats(q + ".bias");
            float[] pre = b.readFloats(q + ".bias");
            float[] delta = w.readFloats("base_model." + "model." + q + ".lora_B.bias");
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i] - pre[i], delta[i], 0f, "FT - BASE in float32 [" + i + "]");
            }
        }
        try (Checkpoint f = Checkpoint.open(ft.toString(), conf);
                Checkpoint loaded = Checkpoint.open(base + "+" + out, conf)) {
            for (String name : List.of(q + ".bias", k + ".bias")) {
                assertArrayEquals(f.readFloats(name), loaded.readFloats(name), name + ": FT's bias exactly");
                int bytes = Math.toIntExact(f.info(name).byteLength());
                assertArrayEquals(f.readRaw(name, 0, bytes), loaded.readRaw(name, 0, bytes), name + " as BF16 bytes");
            }
            float[] wantQ = f.readFloats(q + ".weight");
            float[] gotQ = loaded.readFloats(q + ".weight");
            for (int i = 0; i < wantQ.length; i++) {
                assertEquals(wantQ[i], gotQ[i], 0x1.0p-7 * (1 + Math.abs(wantQ[i])), q + ".weight[" + i + "]");
            }
        }

        // At full rank the factors carry FT - BASE to float32 precision, and BASE+ADAPTER rounds
        // BASE + B A once to BF16, as PEFT's merge does: FT's bytes exactly.
        Path full = tmp.resolve("full-rank");
        extract(LoraExtraction.Request.of(ft.toString(), base.toString(), 1000, full.toString()));
        try (Checkpoint f = Checkpoint.open(ft.toString(), conf);
                Checkpoint loaded = Checkpoint.open(base + "+" + full, conf)) {
            for (String name : f.tensorNames()) {
                int bytes = Math.toIntExact(f.info(name).byteLength());
                assertArrayEquals(f.readRaw(name, 0, bytes), loaded.readRaw(name, 0, bytes), name + " as BF16 bytes");
            }
        }

        Path scaled = tmp.resolve("scaled");
        ScaledAdapter.write(new ScaledAdapter.Request(out.toString(), 0.5, base.toString(), scaled.toString(), false),
                conf);
        try (Checkpoint f = Checkpoint.open(ft.toString(), conf); Checkpoint b = Checkpoint.open(base.toString(), conf);
                Checkpoint loaded = Checkpoint.open(base + "+" + scaled, conf)) {
            float[] want = f.readFloats(q + ".bias");
            float[] pre = b.readFloats(q + ".bias");
            float[] got = loaded.readFloats(q + ".bias");
            for (int i = 0; i < want.length; i++) {
                float mid = pre[i] + 0.5f * (want[i] - pre[i]);
                assertEquals(mid, got[i], 0x1.0p-8 * Math.abs(mid), "the bias half way [" + i + "]");
            }
        }

        Path reported = tmp.resolve("reported");
        LoraAdapterProvenance rp = extract(new LoraExtraction.Request(ft.toString(), base.toString(), 4,
                reported.toString(), false, ExtractionPlan.Svd.AUTO, 1024, LoraExtraction.Other.REPORT,
                LoraExtraction.Selection.DEFAULT, ExtractionPlan.Factors.DEFAULT, 0));
        assertEquals("reported", rp.whole().get(q + ".bias").action());
        assertTrue(Mappers.JSON.readTree(Files.readString(reported.resolve("adapter_config.json"))).path("lora_bias")
                .isMissingNode(), "no lora_bias without biases");
        try (Checkpoint w = Checkpoint.open(reported.resolve("adapter_model.safetensors").toString(), conf)) {
            assertFalse(w.tensorNames().stream().anyMatch(n -> n.endsWith(".bias")), w.tensorNames().toString());
        }

        // PEFT loads a lora_B bias only with lora_bias: true; without it the adapter is refused, naming both.
        ObjectNode withoutFlag = (ObjectNode)
                Mappers.JSON.readTree(Files.readString(out.resolve("adapter_config.json")));
        withoutFlag.remove("lora_bias");
        Files.writeString(out.resolve("adapter_config.json"), Mappers.JSON.writeValueAsString(withoutFlag));
        BadInputException e = assertThrows(BadInputException.class,
                () -> Checkpoint.open(base + "+" + out, conf).close());
        assertTrue(e.getMessage().contains(q + ".lora_B.bias") && e.getMessage().contains("lora_bias"), e.getMessage());
    }

    /** A GPT-2 style model directory: {@code Conv1D} weights {@code [in, out]}, {@code values} by name. */
    private Path gpt2(Path dir, Map<String, float[]> values, Map<String, long[]> shapes) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"),
                "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], \"n_embd\": 16}");
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        shapes.forEach((name, shape) -> tensors.add(
                SafetensorsWriter.TensorData.ofFloats(name, DType.F32, shape, values.get(name))));
        SafetensorsWriter.writeFile(HadoopFs.local(), HadoopFs.of(dir.resolve("model.safetensors")), tensors,
                Map.of("format", "pt"));
        return dir;
    }

    /**
     * GPT-2's Conv1D layers store W [in, out]; PEFT adds scale * (B @ A)^T with lora_A [r, in] and
     * lora_B [out, r] (fan_in_fan_out). The adapter's factors, multiplied out here as PEFT does, give
     * FT - BASE; its c_attn bias is the lora_B bias [out]; the head, an nn.Linear beside them, gets
     * linear factors with --include-lm-head.
     */
    @Test
    void conv1dWeightsOfGpt2StyleModelsGetPeftsFanInFanOutFactors() throws IOException {
        Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        shapes.put("transformer.wte.weight", new long[] {40, 16});
        shapes.put("transformer.h.0.ln_1.weight", new long[] {16});
        shapes.put("transformer.h.0.attn.c_attn.weight", new long[] {16, 48});
        shapes.put("transformer.h.0.attn.c_attn.bias", new long[] {48});
        shapes.put("transformer.h.0.mlp.c_fc.weight", new long[] {16, 64});
        shapes.put("transformer.ln_f.weight", new long[] {16});
        shapes.put("lm_head.weight", new long[] {40, 16});
        SplittableRandom rnd = new SplittableRandom(9);
        Map<String, float[]> pre = new java.util.LinkedHashMap<>();
        Map<String, float[]> post = new java.util.LinkedHashMap<>();
        shapes.forEach((name, shape) -> {
            float[] v = new float[(int) java.util.Arrays.stream(shape).reduce(1, (x, y) -> x * y)];
            for (int i = 0; i < v.length; i++) {
                // On a grid of 2^-12, so that the rank-2 change (on one of 2^-22) below is exact in float32.
                v[i] = (float) (Math.rint(rnd.nextDouble(-0.5, 0.5) * 4096) / 4096);
            }
            pre.put(name, v);
            post.put(name, v.clone());
        });
        float[] attn = post.get("transformer.h.0.attn.c_attn.weight");
        for (int k = 0; k < 2; k++) {
            double[] u = rnd.doubles(16, -1, 1).map(x -> Math.rint(x * 1024) / 1024).toArray();
            double[] w = rnd.doubles(48, -1, 1).map(x -> Math.rint(x * 1024) / 1024).toArray();
            for (int i = 0; i < 16; i++) {
                for (int j = 0; j < 48; j++) {
                    attn[i * 48 + j] += (float) (0.25 * u[i] * w[j]);
                }
            }
        }
        float[] fc = post.get("transformer.h.0.mlp.c_fc.weight");
        for (int i = 0; i < fc.length; i++) {
            fc[i] += (float) (0.1 * Math.sin(i / 64 + 1) * Math.cos(i % 64));
        }
        float[] bias = post.get("transformer.h.0.attn.c_attn.bias");
        for (int i = 0; i < bias.length; i++) {
            bias[i] += 0.125f * (i % 5 - 2);
        }
        Path base = gpt2(tmp.resolve("gpt2-base"), pre, shapes);
        Path ft = gpt2(tmp.resolve("gpt2-ft"), post, shapes);
        Path out = tmp.resolve("gpt2-adapter");
        LoraAdapterProvenance p = extract(LoraExtraction.Request.of(ft.toString(), base.toString(), 8, out.toString()));

        String module = "transformer.h.0.attn.c_attn";
        assertEquals("conv1d", p.modules().get(module).lora());
        assertEquals(2, p.modules().get(module).rank());
        assertEquals(LoraExtraction.LORA_BIAS, p.whole().get(module + ".bias").action());
        JsonNode cfg = Mappers.JSON.readTree(Files.readString(out.resolve("adapter_config.json")));
        assertTrue(cfg.get("fan_in_fan_out").asBoolean(), cfg.toString());
        int r = cfg.get("r").asInt();
        double scale = cfg.get("lora_alpha").asDouble() / r;
        try (Checkpoint w = Checkpoint.open(out.resolve("adapter_model.safetensors").toString(), conf)) {
            String prefix = "base_model.model." + module;
            assertArrayEquals(new long[] {r, 16}, w.info(prefix + ".lora_A.weight").shape(), "lora_A [r, in]");
            assertArrayEquals(new long[] {48, r}, w.info(prefix + ".lora_B.weight").shape(), "lora_B [out, r]");
            assertArrayEquals(new long[] {48}, w.info(prefix + ".lora_B.bias").shape(), "lora_B bias [out]");
            float[] a = w.readFloats(prefix + ".lora_A.weight");
            float[] b = w.readFloats(prefix + ".lora_B.weight");
            float[] before = pre.get(module + ".weight");
            for (int i = 0; i < 16; i++) {
                for (int j = 0; j < 48; j++) {
                    double ba = 0;
                    for (int k = 0; k < r; k++) {
                        ba += (double) b[j * r + k] * a[k * 16 + i];
                    }
                    // PEFT's fan_in_fan_out delta: transpose(B @ A)[i][j] = (B @ A)[j][i].
                    assertEquals(attn[i * 48 + j] - before[i * 48 + j], scale * ba, 1e-5, "W[" + i + "][" + j + "]");
                }
            }
        }
        assertLoadsAs(base, out, post, "");

        // The head is an nn.Linear [vocab, dim] beside the Conv1D layers: decomposed with linear factors
        // (not transposed), which PEFT and the loader apply as for its class whatever fan_in_fan_out says.
        Map<String, float[]> headPost = new java.util.LinkedHashMap<>(post);
        float[] head = post.get("lm_head.weight").clone();
        for (int i = 0; i < head.length; i++) {
            head[i] += 0.125f * ((i / 16) % 3 - 1) * ((i % 16) % 2 == 0 ? 1 : -1);
        }
        headPost.put("lm_head.weight", head);
        Path headFt = gpt2(tmp.resolve("gpt2-head-ft"), headPost, shapes);
        Path headOut = tmp.resolve("gpt2-head");
        LoraAdapterProvenance h = extract(LoraExtraction.Request.of(headFt.toString(), base.toString(), 16,
                headOut.toString()).withSelection(new LoraExtraction.Selection(true, false, List.of(), List.of(),
                List.of())));
        assertEquals("linear", h.modules().get("lm_head").lora());
        assertEquals("conv1d", h.modules().get(module).lora());
        assertTrue(Mappers.JSON.readTree(Files.readString(headOut.resolve("adapter_config.json")))
                .get("fan_in_fan_out").asBoolean());
        try (Checkpoint w = Checkpoint.open(headOut.resolve("adapter_model.safetensors").toString(), conf)) {
            int hr = (int) w.info("base_model.model.lm_head.lora_A.weight").shape()[0];
            assertArrayEquals(new long[] {hr, 16}, w.info("base_model.model.lm_head.lora_A.weight").shape());
            assertArrayEquals(new long[] {40, hr}, w.info("base_model.model.lm_head.lora_B.weight").shape());
        }
        assertLoadsAs(base, headOut, headPost, " with the head");
    }

    /** {@code base} with {@code adapter} applied on load holds every tensor of {@code want}, within 1e-5. */
    private void assertLoadsAs(Path base, Path adapter, Map<String, float[]> want, String what) {
        try (Checkpoint loaded = Checkpoint.open(base + "+" + adapter, conf)) {
            want.forEach((name, values) -> {
                float[] got = loaded.readFloats(name);
                for (int i = 0; i < values.length; i++) {
                    assertEquals(values[i], got[i], 1e-5 * (1 + Math.abs(values[i])), name + "[" + i + "]" + what);
                }
            });
        }
    }

    /** The BF16 pair of {@link #generated} and its rank-8 adapter: {base, fine-tune, adapter}. */
    private Path[] extractedBf16() throws IOException {
        Path[] m = generated(DType.BF16, false);
        Path out = tmp.resolve("adapter");
        extract(LoraExtraction.Request.of(m[1].toString(), m[0].toString(), 8, out.toString()));
        return new Path[] {m[0], m[1], out};
    }

    @Test
    void scalingMixesSavedTensorsWithTheBase() throws IOException {
        Path[] m = extractedBf16();
        Path out = m[2];
        Path scaled = tmp.resolve("scaled");
        BadInputException e = assertThrows(BadInputException.class, () -> ScaledAdapter.write(
                new ScaledAdapter.Request(out.toString(), 0.3, null, scaled.toString(), false), conf));
        assertTrue(e.getMessage().contains("--base-model"), e.getMessage());
        byte[] weights = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        for (Path over : List.of(out, m[0])) {
            BadInputException o = assertThrows(BadInputException.class, () -> ScaledAdapter.write(
                    new ScaledAdapter.Request(out.toString(), 0.3, m[0].toString(), over.toString(), true), conf));
            assertTrue(o.getMessage().contains("which this job reads"), o.getMessage());
        }
        assertArrayEquals(weights, Files.readAllBytes(out.resolve("adapter_model.safetensors")), "the adapter untouched");
        LoraAdapterProvenance p = ScaledAdapter.write(
                new ScaledAdapter.Request(out.toString(), 0.3, m[0].toString(), scaled.toString(), false), conf);
        assertEquals(LoraAdapterProvenance.SCALE, p.madeBy());
        assertEquals(0.3 * p.adapter().r(), p.adapter().loraAlpha(), 1e-12, "lora_alpha = l * r");
        try (Checkpoint f = Checkpoint.open(m[1].toString(), conf); Checkpoint b = Checkpoint.open(m[0].toString(), conf);
             Checkpoint loaded = Checkpoint.open(m[0] + "+" + scaled, conf)) {
            for (String name : f.tensorNames()) {
                float[] ft = f.readFloats(name);
                float[] base = b.readFloats(name);
                float[] got = loaded.readFloats(name);
                if (name.equals("model.layers.1.self_attn.q_proj.weight")) {
                    // BF16 inputs: D is rank 2 plus BF16 rounding noise, which rank 8 only partly keeps.
                    double err2 = 0;
                    double delta2 = 0;
                    for (int i = 0; i < ft.length; i++) {
                        double want = 0.7 * base[i] + 0.3 * ft[i];
                        err2 += (got[i] - want) * (got[i] - want);
                        delta2 += (want - base[i]) * (want - base[i]);
                    }
                    assertTrue(Math.sqrt(err2 / delta2) < 0.01, name + ": " + Math.sqrt(err2 / delta2));
                    continue;
                }
                for (int i = 0; i < ft.length; i++) {
                    double want = 0.7 * base[i] + 0.3 * ft[i];
                    // The saved norm: the merge in float32, rounded once to BF16 (2^-8 relative).
                    assertEquals(want, got[i], 0x1.0p-8 * Math.abs(want), name + "[" + i + "]");
                }
            }
        }
    }

    /**
     * Scaling never writes what PEFT or this loader cannot read: a ratio that overflows the scaled
     * {@code lora_alpha}, a base whose saved tensor has another shape (the same number of elements)
     * or a value that is not finite are bad input, naming what is wrong, and nothing is published.
     */
    @Test
    void scalingRefusesWhatItCannotWriteFaithfully() throws IOException {
        Path[] m = extractedBf16();
        Path out = m[2];
        Path scaled = tmp.resolve("scaled");
        BadInputException e = assertThrows(BadInputException.class, () -> ScaledAdapter.write(
                new ScaledAdapter.Request(out.toString(), 1e308, m[0].toString(), scaled.toString(), false), conf));
        assertTrue(e.getMessage().startsWith("--ratio 1.0E308: the scaled lora_alpha"), e.getMessage());
        String norm = "model.norm.weight";
        Path reshaped = editedBase(m[0], "reshaped", t -> t.name().equals(norm)
                ? new Read(t.name(), t.dtype(), new long[] {2, t.shape()[0] / 2}, t.values()) : t);
        e = assertThrows(BadInputException.class, () -> ScaledAdapter.write(
                new ScaledAdapter.Request(out.toString(), 0.5, reshaped.toString(), scaled.toString(), false), conf));
        assertTrue(e.getMessage().contains("tensor '" + norm + "' is [2, "), e.getMessage());
        Path nan = editedBase(m[0], "nan", t -> {
            if (!t.name().equals(norm)) {
                return t;
            }
            float[] v = t.values().clone();
            v[3] = Float.NaN;
            return new Read(t.name(), t.dtype(), t.shape(), v);
        });
        e = assertThrows(BadInputException.class, () -> ScaledAdapter.write(
                new ScaledAdapter.Request(out.toString(), 0.5, nan.toString(), scaled.toString(), false), conf));
        assertTrue(e.getMessage().contains("the base's tensor '" + norm + "' element 3 is not a finite number"),
                e.getMessage());
        assertFalse(Files.exists(scaled));
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(x -> x.getFileName().toString().contains("staging")), "no staging left");
        }
    }

    /**
     * The finiteness of a saved tensor's merge is checked as it is written, in its own dtype: an F16
     * norm moved by 0.25 is about 0.25 l from BASE's, finite in float32 at l = 300000 but beyond
     * F16's largest finite value (65504), which is bad input naming the tensor; at l = 200000 it fits.
     */
    @Test
    void scalingRefusesAMergeThatOverflowsTheSavedTensorsDtype() throws IOException {
        Path[] m = generated(DType.F16, false);
        Path out = tmp.resolve("adapter");
        extract(LoraExtraction.Request.of(m[1].toString(), m[0].toString(), 8, out.toString()));
        Path scaled = tmp.resolve("scaled");
        BadInputException e = assertThrows(BadInputException.class, () -> ScaledAdapter.write(
                new ScaledAdapter.Request(out.toString(), 300000, m[0].toString(), scaled.toString(), false), conf));
        assertTrue(e.getMessage().startsWith("--ratio 300000.0: the scaled tensor 'model.norm.weight' element 0 is not"
                + " a finite number in F16"), e.getMessage());
        assertFalse(Files.exists(scaled));
        ScaledAdapter.write(new ScaledAdapter.Request(out.toString(), 200000, m[0].toString(), scaled.toString(),
                false), conf);
        try (Checkpoint w = Checkpoint.open(scaled.resolve("adapter_model.safetensors").toString(), conf)) {
            assertEquals(DType.F16, w.info("base_model.model.model.norm.weight").dtype());
            for (float x : w.readFloats("base_model.model.model.norm.weight")) {
                assertTrue(Float.isFinite(x) && x > 40000, "about 0.25 * 200000: " + x);
            }
        }
    }

    /** A tensor as read, and as written again. */
    private record Read(String name, DType dtype, long[] shape, float[] values) {
    }

    /** A copy of model {@code from} (its config and every tensor, {@code edit} applied) in {@code tmp/name}. */
    private Path editedBase(Path from, String name, java.util.function.UnaryOperator<Read> edit) throws IOException {
        return edited(from, name, edit, Map.of());
    }

    /** As {@link #editedBase}, with the float32 vectors {@code extra} added. */
    private Path edited(Path from, String name, java.util.function.UnaryOperator<Read> edit, Map<String, float[]> extra)
            throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.copy(from.resolve("config.json"), dir.resolve("config.json"));
        List<SafetensorsWriter.TensorData> tensors = new ArrayList<>();
        try (Checkpoint b = Checkpoint.open(from.toString(), conf)) {
            for (String t : b.tensorNames()) {
                TensorInfo info = b.info(t);
                Read edited = edit.apply(new Read(t, info.dtype(), info.shape(), b.readFloats(t)));
                tensors.add(SafetensorsWriter.TensorData.ofFloats(t, edited.dtype(), edited.shape(), edited.values()));
            }
        }
        extra.forEach((t, v) -> tensors.add(SafetensorsWriter.TensorData.ofFloats(t, DType.F32, new long[] {v.length},
                v)));
        org.apache.hadoop.fs.Path f = HadoopFs.of(dir.resolve("model.safetensors"));
        SafetensorsWriter.writeFile(HadoopFs.get(f, conf), f, tensors, Map.of("format", "pt"));
        return dir;
    }

    /**
     * A raw parameter of a module that holds decomposed linears (gpt-oss's {@code self_attn.sinks})
     * cannot be saved whole: PEFT would take its module, {@code self_attn}, whole and ignore the LoRA
     * factors of {@code q_proj} inside it. Bad input naming both, nothing written; excluding it or
     * reporting it instead gives an adapter the loader applies, and where nothing inside the module is
     * decomposed the module is saved whole as before.
     */
    @Test
    void aParameterWhoseModuleHoldsDecomposedModulesIsNotSavedWhole() throws IOException {
        Path gen = TinyModels.write(tmp.resolve("gen"), TinyModels.llamaConfig(), DType.F32, 7, Long.MAX_VALUE);
        String sinks = "model.layers.0.self_attn.sinks";
        String q0 = "model.layers.0.self_attn.q_proj";
        Path base = edited(gen, "base", t -> t, Map.of(sinks, new float[] {0.5f, -1f}));
        Path ft = edited(gen, "ft", rank1(q0 + ".weight"), Map.of(sinks, new float[] {1f, -0.5f}));
        Path out = tmp.resolve("adapter");
        BadInputException e = assertThrows(BadInputException.class, () -> extract(LoraExtraction.Request.of(
                ft.toString(), base.toString(), 4, out.toString())));
        assertTrue(e.getMessage().startsWith(sinks + " differs and would be saved whole as module "
                + "model.layers.0.self_attn (modules_to_save), but PEFT takes that module whole and does not adapt the"
                + " decomposed [" + q0 + "] inside it"), e.getMessage());
        assertTrue(e.getMessage().contains("-e '\\.self_attn$'") && e.getMessage().contains("--other report"),
                e.getMessage());
        assertFalse(Files.exists(out));
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(x -> x.getFileName().toString().contains("staging")), "no staging left");
        }

        for (LoraExtraction.Request r : List.of(
                LoraExtraction.Request.of(ft.toString(), base.toString(), 4, tmp.resolve("excluded").toString())
                        .withSelection(new LoraExtraction.Selection(false, false, List.of(), List.of(),
                                List.of("\\.self_attn$"))),
                new LoraExtraction.Request(ft.toString(), base.toString(), 4, tmp.resolve("reported").toString(), false,
                        ExtractionPlan.Svd.EXACT, 1, LoraExtraction.Other.REPORT, LoraExtraction.Selection.DEFAULT,
                        ExtractionPlan.Factors.DEFAULT, 0))) {
            LoraAdapterProvenance p = extract(r);
            assertTrue(p.adapter().modulesToSave().isEmpty(), r.commandLine());
            try (Checkpoint f = Checkpoint.open(ft.toString(), conf);
                 Checkpoint loaded = Checkpoint.open(base + "+" + r.outDir(), conf)) {
                float[] want = f.readFloats(q0 + ".weight");
                float[] got = loaded.readFloats(q0 + ".weight");
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-6, q0 + "[" + i + "] " + r.commandLine());
                }
                assertArrayEquals(new float[] {0.5f, -1f}, loaded.readFloats(sinks), "left at BASE's");
            }
        }

        // Only layer 1's q_proj decomposed: layer 0's self_attn holds none, so it is saved whole, as before.
        Path ft1 = edited(gen, "ft1", rank1("model.layers.1.self_attn.q_proj.weight"),
                Map.of(sinks, new float[] {1f, -0.5f}));
        Path whole = tmp.resolve("whole");
        LoraAdapterProvenance p = extract(LoraExtraction.Request.of(ft1.toString(), base.toString(), 4,
                whole.toString()));
        assertEquals(List.of("model.layers.0.self_attn"), p.adapter().modulesToSave());
        assertEquals(List.of("model.layers.1.self_attn.q_proj"), List.copyOf(p.modules().keySet()));
        try (Checkpoint loaded = Checkpoint.open(base + "+" + whole, conf)) {
            assertArrayEquals(new float[] {1f, -0.5f}, loaded.readFloats(sinks), "saved whole: FT's");
        }
    }

    /** Adds an exact rank-1 change (multiples of 0.25) to tensor {@code name}. */
    private static java.util.function.UnaryOperator<Read> rank1(String name) {
        return t -> {
            if (!t.name().equals(name)) {
                return t;
            }
            float[] v = t.values().clone();
            int cols = (int) t.shape()[1];
            for (int i = 0; i < v.length; i++) {
                v[i] += 0.25f * ((i / cols) % 3 - 1) * ((i % cols) % 2 == 0 ? 1 : -1);
            }
            return new Read(t.name(), t.dtype(), t.shape(), v);
        };
    }

    /**
     * PEFT refuses {@code lora_bias} beside embedding LoRA ("lora_bias=True is not supported for
     * Embedding"): {@code --embed-lora} where a decomposed module's bias differs is bad input saying
     * so; with {@code --other report} the bias is reported and the adapter has no {@code lora_bias}.
     */
    @Test
    void embedLoraWithADifferingBiasOfADecomposedModuleIsRefused() throws IOException {
        ObjectNode config = TinyModels.llamaConfig().put("attention_bias", true);
        Path base = TinyModels.write(tmp.resolve("base"), config, DType.F32, 5, Long.MAX_VALUE);
        String q = "model.layers.1.self_attn.q_proj";
        Path ft = editedBase(base, "ft", t -> {
            if (t.name().equals(q + ".bias")) {
                float[] v = t.values().clone();
                for (int i = 0; i < v.length; i++) {
                    v[i] += 0.125f;
                }
                return new Read(t.name(), t.dtype(), t.shape(), v);
            }
            return rank1("model.embed_tokens.weight").apply(rank1(q + ".weight").apply(t));
        });
        Path out = tmp.resolve("adapter");
        BadInputException e = assertThrows(BadInputException.class, () -> extract(LoraExtraction.Request.of(
                ft.toString(), base.toString(), 4, out.toString()).withSelection(EMBED_LORA)));
        assertTrue(e.getMessage().startsWith("--embed-lora: the bias of decomposed module " + q + " differs and would"
                + " be written as its lora_B bias (lora_bias: true), which PEFT refuses beside embedding LoRA"),
                e.getMessage());
        assertTrue(e.getMessage().contains("--other report"), e.getMessage());
        assertFalse(Files.exists(out));

        LoraAdapterProvenance p = extract(new LoraExtraction.Request(ft.toString(), base.toString(), 4,
                out.toString(), false, ExtractionPlan.Svd.EXACT, 1, LoraExtraction.Other.REPORT, EMBED_LORA,
                ExtractionPlan.Factors.DEFAULT, 0));
        assertEquals("embedding", p.modules().get("model.embed_tokens").lora());
        assertEquals("reported", p.whole().get(q + ".bias").action());
        JsonNode cfg = Mappers.JSON.readTree(Files.readString(out.resolve("adapter_config.json")));
        assertTrue(cfg.get("lora_bias") == null || !cfg.get("lora_bias").asBoolean(), cfg.toString());
        // Without --embed-lora the bias is the lora_B bias, as before.
        Path plain = tmp.resolve("plain");
        assertEquals("lora_bias", extract(LoraExtraction.Request.of(ft.toString(), base.toString(), 4,
                plain.toString())).whole().get(q + ".bias").action());
    }

    @Test
    void randomizedIsKeyedByTensorNameAndSeedNotByOrder() throws IOException {
        String ft = toy.resolve("finetuned").toString();
        String base = toy.resolve("aligned").toString();
        byte[][] files = new byte[2][];
        for (int threads = 1; threads <= 2; threads++) {
            Path out = tmp.resolve("rand" + threads);
            LoraExtraction.run(new LoraExtraction.Request(ft, base, 4, out.toString(), false,
                    ExtractionPlan.Svd.RANDOMIZED, 1, LoraExtraction.Other.SAVE, LoraExtraction.Selection.DEFAULT,
                    ExtractionPlan.Factors.DEFAULT, 5),
                    new LocalExtractExecutor(threads, conf, Progress.NONE), conf);
            files[threads - 1] = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        }
        assertTrue(java.util.Arrays.equals(files[0], files[1]), "same bytes on 1 and 2 threads");
    }

    @Test
    void badInputIsRefusedBeforeAnyOutput() throws IOException {
        String ft = toy.resolve("finetuned").toString();
        String base = toy.resolve("aligned").toString();
        Path out = tmp.resolve("never");
        BadInputException e = assertThrows(BadInputException.class,
                () -> extract(LoraExtraction.Request.of(ft, base, 0, out.toString())));
        assertTrue(e.getMessage().contains("--max-rank 0"), e.getMessage());
        e = assertThrows(BadInputException.class,
                () -> extract(LoraExtraction.Request.of(tmp.resolve("missing").toString(), base, 4, out.toString())));
        assertTrue(e.getMessage().contains("missing"), e.getMessage());
        Path tiny = TinyModels.write(tmp.resolve("tiny"), TinyModels.llamaConfig(), DType.F32, 1, Long.MAX_VALUE);
        e = assertThrows(BadInputException.class,
                () -> extract(LoraExtraction.Request.of(ft, tiny.toString(), 4, out.toString())));
        assertTrue(e.getMessage().contains("shape"), e.getMessage());
        e = assertThrows(BadInputException.class,
                () -> extract(LoraExtraction.Request.of(base, base, 4, out.toString())));
        assertTrue(e.getMessage().contains("nothing to extract"), e.getMessage());
        assertFalse(Files.exists(out), "nothing written");
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(x -> x.getFileName().toString().contains("staging")), "no staging left");
        }
        Path occupied = tmp.resolve("occupied");
        Files.createDirectories(occupied);
        Files.writeString(occupied.resolve("notes.txt"), "mine");
        e = assertThrows(BadInputException.class,
                () -> extract(LoraExtraction.Request.of(ft, base, 4, occupied.toString())));
        assertTrue(e.getMessage().contains("--overwrite"), e.getMessage());
        assertEquals("mine", Files.readString(occupied.resolve("notes.txt")));
        extract(LoraExtraction.Request.of(ft, base, 4, occupied.toString()).withOverwrite(true));
        assertFalse(Files.exists(occupied.resolve("notes.txt")));
    }

    /** A model written over while the extraction reads it (same length) gives no adapter. */
    @Test
    void aModelWrittenOverDuringTheExtractionIsRefused() throws IOException {
        Path ft = tmp.resolve("ft");
        org.apache.commons.io.FileUtils.copyDirectory(toy.resolve("finetuned").toFile(), ft.toFile());
        Path shard = ft.resolve("model.safetensors");
        LocalExtractExecutor local = new LocalExtractExecutor(2, conf, Progress.NONE);
        ExtractExecutor rewriting = new ExtractExecutor() {
            @Override
            public List<DeltaResult> run(ExtractionPlan plan) {
                List<DeltaResult> results = local.run(plan);
                WrittenOver.writeOver(shard);
                return results;
            }

            @Override
            public String describe() {
                return local.describe();
            }
        };
        Path out = tmp.resolve("adapter");
        BadInputException e = assertThrows(BadInputException.class, () -> LoraExtraction.run(LoraExtraction.Request.of(
                ft.toString(), toy.resolve("aligned").toString(), 4, out.toString()), rewriting, conf));
        assertTrue(e.getMessage().contains("model.safetensors: changed while it was read"), e.getMessage());
        assertFalse(Files.exists(out));
        try (var s = Files.list(tmp)) {
            assertTrue(s.noneMatch(x -> x.getFileName().toString().contains("staging")), "no staging left");
        }
    }
}
