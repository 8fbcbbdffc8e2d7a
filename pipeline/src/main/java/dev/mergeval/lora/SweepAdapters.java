package dev.mergeval.lora;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.FileDigest;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.TruncatedSvd;
import dev.mergeval.provenance.FileHash;
import dev.mergeval.provenance.LoraAdapterProvenance;
import dev.mergeval.provenance.Provenance;
import dev.mergeval.source.ModelSource;
import dev.mergeval.sweep.LoraAdapters;
import dev.mergeval.sweep.SweepPoint;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A sweep's linear-merge points as PEFT adapters of the aligned model ({@link LoraAdapters}): for a
 * LoRA fine-tune {@code ALIGNED+ADAPTER}, {@code W_pre + l (alpha/r) B A} is the linear merge at ratio
 * {@code l}, so each ratio is that adapter with {@code lora_alpha} scaled by {@code l}
 * ({@link ScaledAdapter}); a full fine-tune (or an adapter of another base) is first turned into one
 * by {@link LoraExtraction} at {@code max_rank}, whose approximation error is recorded. Then one
 * server with multi-LoRA serves the whole grid and no checkpoint is written:
 * {@value #SERVE_SCRIPT} holds the vLLM command and {@value #LIST_FILE} what each adapter is.
 *
 * <p>Every adapter is published atomically with its provenance, so a re-run of the sweep keeps those
 * already written.
 */
public final class SweepAdapters {

    public static final String SERVE_SCRIPT = "serve-lora.sh";
    public static final String LIST_FILE = "lora-adapters.json";

    /** vLLM's accepted {@code --max-lora-rank} values above 1. */
    private static final int[] VLLM_RANKS = {8, 16, 32, 64, 128, 256, 320, 512};

    /**
     * One served adapter.
     *
     * @param name            its name on the server ({@code --lora-modules name=path})
     * @param point           the sweep point it is
     * @param extractionError the relative Frobenius error of the extraction it was scaled from; absent for
     *                        a LoRA fine-tune, which is exact
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Entry(@JsonProperty("name") String name, @JsonProperty("point") String point,
                        @JsonProperty("finetuned") String finetuned, @JsonProperty("ratio") double ratio,
                        @JsonProperty("path") String path, @JsonProperty("r") int r,
                        @JsonProperty("lora_alpha") double loraAlpha,
                        @JsonProperty("extraction_error") Double extractionError) {
    }

    /** What was written: the adapters and the serve command. */
    public record Written(List<Entry> entries, String command) {
    }

    private SweepAdapters() {
    }

    /**
     * Writes the adapters of every {@code linear} point without extra parameters among {@code points}
     * under {@code sweepDir/<block.out>}, then {@value #LIST_FILE} and {@value #SERVE_SCRIPT} into
     * {@code sweepDir}.
     */
    public static Written write(LoraAdapters block, String aligned, List<String> finetuned, List<SweepPoint> points,
            long seed, String sweepDir, ExtractExecutor extractor, Configuration conf) {
        Path root = new Path(sweepDir, block.out());
        FileSystem fs = HadoopFs.get(root, conf);
        List<Entry> entries = new ArrayList<>();
        for (int f = 0; f < finetuned.size(); f++) {
            String ft = finetuned.get(f);
            List<SweepPoint> linear = points.stream().filter(p -> p.isMerge() && "linear".equals(p.method())
                    && ft.equals(p.finetuned()) && p.parameters().isEmpty()).toList();
            if (linear.isEmpty()) {
                continue;
            }
            String adapter;
            Double error = null;
            if (ModelSource.parse(ft, conf) instanceof ModelSource.WithAdapter w && w.base().equals(aligned)) {
                adapter = w.adapter();
            } else {
                if (block.maxRank() == null) {
                    throw new BadInputException("lora_adapters.max_rank: required, since finetuned[" + f + "] (" + ft
                            + ") is not a LoRA adapter of the aligned model and must be extracted first");
                }
                Path dir = new Path(root, "extracted-f" + f);
                if (!current(fs, dir, conf)) {
                    LoraExtraction.run(new LoraExtraction.Request(ft, aligned, block.maxRank(), dir.toString(),
                            complete(fs, dir),
                            ExtractionPlan.Svd.valueOf(block.svd().toUpperCase(Locale.ROOT)),
                            TruncatedSvd.EXACT_LIMIT, LoraExtraction.Other.SAVE, LoraExtraction.Selection.DEFAULT,
                            ExtractionPlan.Factors.DEFAULT, seed), extractor, conf);
                }
                adapter = dir.toString();
                error = read(fs, dir).totals().relativeError();
            }
            for (SweepPoint p : linear) {
                String name = "f" + f + "-linear-" + BigDecimal.valueOf(p.ratio()).stripTrailingZeros().toPlainString();
                Path dir = new Path(root, name);
                if (!current(fs, dir, conf)) {
                    ScaledAdapter.write(new ScaledAdapter.Request(adapter, p.ratio(), aligned, dir.toString(),
                            complete(fs, dir)), conf);
                }
                LoraAdapterProvenance prov = read(fs, dir);
                entries.add(new Entry(name, p.id(), ft, p.ratio(), localPath(fs.makeQualified(dir)), prov.adapter().r(),
                        prov.adapter().loraAlpha(), error));
            }
        }
        if (entries.isEmpty()) {
            throw new BadInputException("lora_adapters: the grid has no linear merge (without extra parameters) to"
                    + " write as an adapter");
        }
        String command = vllmCommand(localPath(HadoopFs.qualify(HadoopFs.get(new Path(aligned), conf),
                new Path(aligned))), entries);
        try {
            HadoopFs.writeString(fs, new Path(sweepDir, LIST_FILE), Mappers.PRETTY.writeValueAsString(entries) + "\n");
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
        HadoopFs.writeString(fs, new Path(sweepDir, SERVE_SCRIPT), "#!/bin/sh\n"
                + "# One vLLM server for every linear-merge point of this sweep, as LoRA adapters of the aligned model\n"
                + "# (written by mergeval sweep; see " + LIST_FILE + " for which point each name is). Extra vLLM\n"
                + "# options (--port, --served-model-name, ...) pass through: sh " + SERVE_SCRIPT + " --port 8000\n"
                + "exec " + command + " \"$@\"\n");
        return new Written(entries, command);
    }

    /**
     * {@code vllm serve BASE --enable-lora --max-lora-rank R --max-loras N --lora-modules name=path ...},
     * quoted for a POSIX shell; R is the smallest value vLLM accepts that holds every adapter's rank.
     */
    public static String vllmCommand(String base, List<Entry> entries) {
        int r = entries.stream().mapToInt(Entry::r).max().orElse(1);
        int maxRank = VLLM_RANKS[VLLM_RANKS.length - 1];
        for (int v : VLLM_RANKS) {
            if (v >= r) {
                maxRank = v;
                break;
            }
        }
        StringBuilder b = new StringBuilder("vllm serve ").append(quote(base)).append(" --enable-lora --max-lora-rank ")
                .append(maxRank).append(" --max-loras ").append(entries.size()).append(" --lora-modules");
        for (Entry e : entries) {
            b.append(' ').append(quote(e.name() + "=" + e.path()));
        }
        return b.toString();
    }

    private static String quote(String s) {
        return s.matches("[A-Za-z0-9_./=:@%+,-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }

    /** A local path without its scheme (what an engine on this machine opens); other URIs as they are. */
    private static String localPath(Path p) {
        String scheme = p.toUri().getScheme();
        return scheme == null || scheme.equals("file") ? p.toUri().getPath() : p.toString();
    }

    /**
     * Whether {@code dir} holds a finished adapter made from its inputs as they are now: every input
     * file its provenance lists has the length and digest recorded (a fine-tune trained again, or an
     * extracted adapter redone, makes it stale; local digests are remembered per file version).
     */
    private static boolean current(FileSystem fs, Path dir, Configuration conf) {
        if (!complete(fs, dir)) {
            return false;
        }
        for (LoraAdapterProvenance.Input input : read(fs, dir).inputs()) {
            for (FileHash f : input.files()) {
                if (!unchanged(f, conf)) {
                    return false;
                }
            }
        }
        return true;
    }

    private static boolean unchanged(FileHash file, Configuration conf) {
        Path p = new Path(file.path());
        try {
            if (HadoopFs.get(p, conf).getFileStatus(p).getLen() != file.bytes()) {
                return false;
            }
        } catch (FileNotFoundException e) {
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + p, e);
        }
        return file.sha256() != null ? file.sha256().equals(HadoopFs.digest(file.path(), FileDigest.SHA256, conf))
                : file.xxh64() != null && file.xxh64().equals(HadoopFs.digest(file.path(), FileDigest.XXH64, conf));
    }

    private static boolean complete(FileSystem fs, Path dir) {
        try {
            return fs.exists(new Path(dir, OutputPublisher.PROVENANCE_FILE));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat " + dir, e);
        }
    }

    private static LoraAdapterProvenance read(FileSystem fs, Path dir) {
        try {
            return Provenance.read(HadoopFs.readString(fs, new Path(dir, OutputPublisher.PROVENANCE_FILE)),
                    LoraAdapterProvenance.class);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir, e);
        }
    }
}
