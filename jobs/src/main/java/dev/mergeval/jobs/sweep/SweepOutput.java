package dev.mergeval.jobs.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.checkpoint.OutputPublisher;
import dev.mergeval.checkpoint.StagingClaim;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.Mappers;
import dev.mergeval.eval.EvalSuite;
import dev.mergeval.jobs.OutputLocation;
import dev.mergeval.provenance.Environment;
import dev.mergeval.report.ReportHtml;
import dev.mergeval.report.ResultsCsv;
import dev.mergeval.report.SummaryJson;
import dev.mergeval.sweep.SweepSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;

/**
 * A sweep's output directory, on any Hadoop filesystem. It is a working directory: {@code sweep.json}
 * (written first) records which spec it belongs to, {@code points/<id>/} holds each point's work
 * with {@code metrics.json} as its completion marker, and the final files ({@code results.csv},
 * {@code results.parquet}, {@code report.html}, {@code summary.json}) exist only while they describe a
 * finished run: a run removes them ({@code summary.json} first) before any work, writes the new ones
 * into a hidden staging directory, and moves them in with {@code summary.json} last. So
 * {@code summary.json} present means the other three are complete and current.
 *
 * <p>Occupied directories: a directory that is absent, empty, or a sweep of the same spec (same
 * {@link SweepSpec#hash()}; a re-run resumes) is used; anything else is refused before any work.
 * {@code --overwrite} deletes a non-empty directory first (a fresh start), but never one that holds
 * the sweep's own inputs or the working directory.
 */
public final class SweepOutput {

    public static final String SWEEP_FILE = "sweep.json";
    static final String FORMAT = "mergeval-sweep-dir/1";

    /** The final files, in the order they are published: the completeness marker last. */
    static final List<String> FINAL_FILES = List.of(ResultsParquet.DIR, ResultsCsv.FILE, ReportHtml.FILE,
            SummaryJson.FILE);

    /** The name the final files are staged under, as {@link OutputPublisher} names its staging. */
    private static final String FINAL = "final";

    private static final ObjectMapper JSON = Mappers.PRETTY;

    private final OutputLocation out;
    private final SweepSpec spec;

    private SweepOutput(OutputLocation out, SweepSpec spec) {
        this.out = out;
        this.spec = spec;
    }

    public static SweepOutput of(SweepSpec spec, String outDir, Configuration conf) {
        return new SweepOutput(OutputLocation.resolve(outDir, conf), spec);
    }

    public OutputLocation location() {
        return out;
    }

    /**
     * The occupied-output rules, before any work and before Spark starts; nothing is written. With
     * {@code overwrite} a non-empty directory (even a sweep of this spec) may be replaced, unless it
     * holds what the sweep reads: {@link #claim(boolean)} empties it once no other run holds it.
     *
     * @param inputs the spec file and anything else the run reads, which {@code --overwrite} must not delete
     */
    public void prepare(boolean overwrite, List<String> inputs) {
        out.requireNotFile();
        if (!overwrite) {
            String occupied = occupiedBy();
            if (occupied != null) {
                throw new BadInputException(out.display() + ": " + occupied + "; pass --overwrite to replace it");
            }
            return;
        }
        if (out.list().isEmpty()) {
            return;
        }
        List<String> keep = new ArrayList<>(inputs);
        keep.add(spec.aligned());
        keep.addAll(spec.finetuned());
        if (spec.suite().path() != null) {
            keep.add(spec.suite().path());
        }
        keep.addAll(suite(spec).readLocations());
        out.requireHoldsNone(keep, "this sweep reads");
    }

    /** Why the directory may not be used for this spec, or null when it may. */
    private String occupiedBy() {
        // A run's claim is no content: a fresh directory holds only that of the run checking it.
        List<FileStatus> entries = out.list().stream()
                .filter(e -> !e.getPath().getName().equals(StagingClaim.FILE)).toList();
        if (entries.isEmpty()) {
            return null;
        }
        Path marker = out.child(SWEEP_FILE);
        if (entries.stream().noneMatch(e -> e.getPath().getName().equals(SWEEP_FILE))) {
            List<String> names = entries.stream().map(e -> e.getPath().getName()).sorted().limit(3).toList();
            return "not empty and not a Mergeval sweep (holds " + String.join(", ", names)
                    + (entries.size() > names.size() ? ", ..." : "") + ")";
        }
        JsonNode identity;
        try {
            identity = JSON.readTree(HadoopFs.readString(out.fs(), marker));
        } catch (IOException e) {
            return "holds an unreadable " + SWEEP_FILE + " (" + e.getMessage() + ")";
        }
        String hash = identity.path("spec_hash").asText("");
        if (hash.equals(spec.hash())) {
            return null;
        }
        return "holds a sweep of a different spec ('" + identity.path("name").asText("?") + "', spec hash "
                + abbreviate(hash) + ", this spec's is " + abbreviate(spec.hash()) + ")";
    }

    /** The spec's suite, from its file or inline (whose paths were resolved against the spec's directory). */
    private static EvalSuite suite(SweepSpec spec) {
        if (spec.suite().path() != null) {
            return EvalSuite.read(spec.suite().path());
        }
        try {
            return EvalSuite.parse(Mappers.QUOTED_YAML.writeValueAsString(spec.suite().inline()), "suite", null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String abbreviate(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }

    /**
     * Starts a run: takes the directory's claim ({@link StagingClaim}, its file in the directory),
     * so that a second run of the sweep into it is refused while this one works and a killed run's
     * is taken over; checks the directory again (refusing, never deleting), records the spec's
     * identity in {@code sweep.json} if it is not there yet, and removes earlier final files. The
     * caller closes the claim when the run ends.
     */
    public StagingClaim claim() {
        return claim(false);
    }

    /**
     * {@link #claim()}, with {@code overwrite} (checked by {@link #prepare}) first deleting everything
     * else in the directory: only once the claim is this run's, so that a run still writing there is
     * refused, never emptied under it.
     */
    public StagingClaim claim(boolean overwrite) {
        StagingClaim claim = StagingClaim.take(out.fs(), out.path(), out.display());
        try {
            if (overwrite) {
                for (FileStatus entry : out.list()) {
                    if (!entry.getPath().getName().equals(StagingClaim.FILE)) {
                        delete(entry.getPath());
                    }
                }
            }
            prepare(false, List.of());
            writeMarker();
            removeFinalFiles();
            new OutputPublisher(out.fs()).discardLeftovers(out.path(), FINAL);
            return claim;
        } catch (RuntimeException e) {
            claim.close();
            throw e;
        }
    }

    private void writeMarker() {
        Path marker = out.child(SWEEP_FILE);
        try {
            if (!out.fs().exists(marker)) {
                Map<String, Object> identity = new LinkedHashMap<>();
                identity.put("format", FORMAT);
                identity.put("name", spec.name());
                identity.put("spec_hash", spec.hash());
                identity.put("mergeval_version", Environment.buildVersion());
                identity.put("created_at", Instant.now().toString());
                HadoopFs.writeAtomically(out.fs(), marker, JSON.writeValueAsString(identity));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + marker, e);
        }
    }

    private void removeFinalFiles() {
        for (int i = FINAL_FILES.size() - 1; i >= 0; i--) {
            delete(out.child(FINAL_FILES.get(i)));
        }
    }

    private void delete(Path path) {
        try {
            out.fs().delete(path, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + path, e);
        }
    }

    /**
     * Writes the final files with {@code writer} into a hidden staging directory and moves them
     * into place, {@code summary.json} last.
     */
    void publishFinalFiles(Consumer<Path> writer) {
        Path staging = out.child(OutputPublisher.stagingPrefix(FINAL) + UUID.randomUUID());
        try {
            try {
                writer.accept(staging);
                removeFinalFiles();
                for (String name : FINAL_FILES) {
                    if (!out.fs().rename(new Path(staging, name), out.child(name))) {
                        throw new IOException("rename " + new Path(staging, name) + " -> " + out.child(name)
                                + " failed");
                    }
                }
            } finally {
                out.fs().delete(staging, true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot publish the sweep's results in " + out.display(), e);
        }
    }
}
