package dev.mergeval.provenance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Regenerates the golden files of {@link ProvenanceGoldenTest} from the provenance files of real
 * runs: {@code GoldenProvenanceFiles ROOT[,ROOT...] KIND=FILE...} reads each file as its kind,
 * replaces the machine-specific prefixes {@code ROOT} of its paths with {@code /data}, and writes it as
 * {@code src/test/resources/dev/mergeval/provenance/KIND.json} (run from {@code pipeline/}); the
 * file of {@code sweep} is a {@code summary.json}, whose {@code provenance} it takes. Not a
 * test: regenerate only when a record's format changes on purpose, and say so in the commit.
 */
public final class GoldenProvenanceFiles {

    /** The golden file of each kind. */
    static final Map<String, Class<? extends Provenance>> KINDS = Map.of(
            "merge", MergeProvenance.class,
            "eval", EvalProvenance.class,
            "judge", JudgeProvenance.class,
            "sweep", SweepProvenance.class,
            "finetune", FineTuneProvenance.class,
            "toy", ToyProvenance.class,
            "lora-adapter", LoraAdapterProvenance.class);

    static final String DIR = "/dev/mergeval/provenance/";

    private GoldenProvenanceFiles() {
    }

    public static void main(String[] args) throws IOException {
        String[] roots = args[0].split(",");
        for (int i = 1; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            String text = Files.readString(Path.of(kv[1]));
            for (String root : roots) {
                text = text.replace(root, "/data");
            }
            Provenance p = kv[0].equals("sweep") ? SweepProvenance.readSummary(text)
                    : Provenance.read(text, KINDS.get(kv[0]));
            Files.writeString(Path.of("src/test/resources" + DIR + kv[0] + ".json"), p.toJson());
        }
    }
}
