package dev.mergeval.merge.onload;

import com.fasterxml.jackson.core.JsonProcessingException;
import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.ShardFile;
import dev.mergeval.common.Sha256;
import dev.mergeval.merge.MergeInputs;
import dev.mergeval.merge.ParamDef;
import dev.mergeval.merge.PlanAnalysis;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A merge-on-load source's plan-time analysis, kept beside its config as {@code CONFIG.analysis}
 * so that the executors of an evaluation read it instead of each repeating it: the driver writes it
 * ({@link LanguageModels#prepare}) before any executor loads the merge. The file holds a key, the
 * SHA-256 of the normalized config, the seed and every input file's path, length and modification
 * time; an analysis whose key does not match the inputs as they are now is ignored.
 */
final class MergeAnalysisFile {

    private static final String SUFFIX = ".analysis";

    /** The file: the key on the first line, the analysis as JSON ({@link PlanAnalysis#toJson}) after it. */
    private MergeAnalysisFile() {
    }

    /** Where the analysis of the merge config at {@code configLocation} is kept. */
    static Path of(String configLocation) {
        return new Path(configLocation + SUFFIX);
    }

    /** Identifies what the analysis was computed from. */
    static String key(MergeInputs inputs, long seed, Configuration conf) {
        StringBuilder sb = new StringBuilder(inputs.config().normalizedYaml()).append("\nseed ").append(seed).append('\n');
        try {
            for (Checkpoint c : inputs.models().values()) {
                files(sb, c, conf);
            }
            for (Checkpoint c : inputs.extras().values()) {
                files(sb, c, conf);
            }
            for (ParamDef def : inputs.config().method().parameters()) {
                if (def.kind() == ParamDef.Kind.FILE && inputs.config().parameters().containsKey(def.name())) {
                    file(sb, new Path(inputs.config().resolve(def.name())), conf);
                }
            }
            return Sha256.ofText(sb.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot stat the inputs of " + inputs.config().sourceName(), e);
        }
    }

    private static void files(StringBuilder sb, Checkpoint c, Configuration conf) throws IOException {
        for (ShardFile f : c.shardFiles()) {
            file(sb, new Path(f.path()), conf);
        }
    }

    private static void file(StringBuilder sb, Path p, Configuration conf) throws IOException {
        FileSystem fs = HadoopFs.get(p, conf);
        var status = fs.getFileStatus(p);
        sb.append(fs.makeQualified(p)).append(' ').append(status.getLen()).append(' ')
                .append(status.getModificationTime()).append('\n');
    }

    /**
     * The analysis kept for {@code key}, or null when there is none, it was made from other inputs, or
     * the file does not parse as an analysis (it is then made afresh).
     */
    static PlanAnalysis read(Path file, String key, Configuration conf) {
        try {
            FileSystem fs = HadoopFs.get(file, conf);
            if (!fs.exists(file)) {
                return null;
            }
            String text;
            try (InputStream in = fs.open(file)) {
                text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            int eol = text.indexOf('\n');
            if (eol < 0 || !key.equals(text.substring(0, eol))) {
                return null;
            }
            return PlanAnalysis.fromJson(text.substring(eol + 1));
        } catch (JsonProcessingException e) {
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Writes {@code analysis} under {@code key}, whole or not at all (a sibling renamed into place). */
    static void write(Path file, String key, PlanAnalysis analysis, Configuration conf) {
        HadoopFs.writeAtomically(HadoopFs.get(file, conf), file, key + "\n" + analysis.toJson());
    }
}
