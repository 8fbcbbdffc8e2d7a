package dev.mergeval.jobs;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.MergevalVersion;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import org.apache.hadoop.fs.Path;

/**
 * An output directory written whole or not at all ({@code eval}, {@code judge}): the body writes
 * into a hidden staging sibling, then {@link OutputPublisher} writes the provenance file (the
 * completeness marker) last and moves the directory into place; on failure the staging directory
 * is deleted and nothing at the output changes.
 */
public final class StagedOutput {

    private static final ObjectMapper JSON = Mappers.PRETTY;

    private StagedOutput() {
    }

    /**
     * The occupied-output rule, checked before any work: the location must not be a file, and
     * must be absent or an empty directory unless {@code overwrite}.
     */
    public static void check(OutputLocation out, boolean overwrite) {
        out.requireNotFile();
        if (!overwrite && !out.list().isEmpty()) {
            throw new BadInputException(out.display() + ": output directory is not empty;"
                    + " pass --overwrite to replace it");
        }
    }

    /**
     * Checks {@code out}, runs {@code body} on a fresh staging directory, and publishes it with a
     * provenance file of {@code command}, {@code inputs} and {@code parameters}.
     */
    public static <T> T write(OutputLocation out, boolean overwrite, String command, Map<String, ?> inputs,
            Map<String, ?> parameters, Function<Path, T> body) {
        check(out, overwrite);
        OutputPublisher publisher = new OutputPublisher(out.fs());
        Path staging = publisher.stage(out.path().toString());
        try {
            T result = body.apply(staging);
            HadoopFs.writeString(out.fs(), new Path(staging, OutputPublisher.PROVENANCE_FILE),
                    provenance(command, inputs, parameters));
            publisher.publish(staging, out.path(), overwrite);
            return result;
        } catch (Throwable t) {
            // Throwable: Spark rethrows a failed job's SparkException, a checked exception, undeclared.
            discard(publisher, staging, t);
            throw t;
        }
    }

    private static String provenance(String command, Map<String, ?> inputs, Map<String, ?> parameters) {
        Map<String, Object> provenance = new LinkedHashMap<>();
        provenance.put("format", "mergeval-output-provenance/1");
        provenance.put("command", command);
        provenance.put("mergeval_version", MergevalVersion.VERSION);
        provenance.put("created_at", Instant.now().toString());
        provenance.put("inputs", inputs);
        provenance.put("parameters", parameters);
        try {
            return JSON.writeValueAsString(provenance);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void discard(OutputPublisher publisher, Path staging, Throwable cause) {
        try {
            publisher.discard(staging);
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
