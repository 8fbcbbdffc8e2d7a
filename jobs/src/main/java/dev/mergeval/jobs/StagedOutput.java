package dev.mergeval.jobs;

import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.common.BadInputException;
import dev.mergeval.provenance.Provenance;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.hadoop.fs.Path;

/**
 * An output directory written whole or not at all ({@code eval}, {@code judge}): the body writes
 * into a hidden staging sibling, then {@link OutputPublisher} writes the provenance file (the
 * completeness marker) last and moves the directory into place; on failure the staging directory
 * is deleted and nothing at the output changes.
 */
public final class StagedOutput {

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
     * Checks {@code out}, runs {@code body} on a fresh staging directory, and publishes it with the
     * provenance file, {@code provenance} taken when the body is done.
     */
    public static <T> T write(OutputLocation out, boolean overwrite, Supplier<? extends Provenance> provenance,
            Function<Path, T> body) {
        check(out, overwrite);
        OutputPublisher publisher = new OutputPublisher(out.fs());
        Path staging = publisher.stage(out.path().toString());
        try {
            T result = body.apply(staging);
            HadoopFs.writeString(out.fs(), new Path(staging, OutputPublisher.PROVENANCE_FILE),
                    provenance.get().toJson());
            publisher.publish(staging, out.path(), overwrite);
            return result;
        } catch (Throwable t) {
            // Throwable: Spark rethrows a failed job's SparkException, a checked exception, undeclared.
            discard(publisher, staging, t);
            throw t;
        }
    }

    private static void discard(OutputPublisher publisher, Path staging, Throwable cause) {
        try {
            publisher.discardAfter(staging, cause);
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
