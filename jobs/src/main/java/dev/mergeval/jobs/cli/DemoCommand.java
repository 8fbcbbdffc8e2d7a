package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import dev.mergeval.sweep.SweepSpec;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mergeval demo}: the sweep of {@code conf/demo/sweep.yaml} on the project's miniature
 * aligned/fine-tuned pair, with its paths resolved against the project root.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Compare every safety method on the project's tiny aligned model: linear, slerp, ties and dare_linear merges with its fine-tune, its SPF fine-tune, and safe_lora, resta and spf_project.")
final class DemoCommand implements Callable<Integer> {

    static final String SPEC = "conf/demo/sweep.yaml";

    @Option(names = "--out", paramLabel = "DIR",
            description = "output directory: a local path, file:, hdfs:// or s3a:// (default: ${DEFAULT-VALUE})")
    String out = "mergeval-demo";

    @Option(names = "--overwrite",
            description = "delete a non-empty output directory first and start afresh")
    boolean overwrite;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master (default local[*])")
    String master;

    @Option(names = "--project", paramLabel = "DIR", description = "the Mergeval checkout (default: found from here)")
    Path project;

    @Override
    public Integer call() {
        Path root = project != null ? project.toAbsolutePath() : findRoot();
        if (!Files.isRegularFile(root.resolve(SPEC))) {
            throw new BadInputException(root.resolve(SPEC) + ": demo spec not found; pass --project DIR");
        }
        SweepSpec spec = InputChecks.resolve(SweepSpec.load(root.resolve(SPEC)), root);
        InputChecks.sweepInputs(spec, root.resolve(SPEC).toString());
        return SweepCommand.run(spec, root.resolve(SPEC), out, overwrite, master, false, System.out);
    }

    /** The working directory or an ancestor holding the demo spec, else the checkout this class was built in. */
    static Path findRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve(SPEC))) {
                return p;
            }
        }
        try {
            Path classes = Path.of(DemoCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path p = classes; p != null; p = p.getParent()) {
                if (Files.isRegularFile(p.resolve(SPEC))) {
                    return p;
                }
            }
        } catch (URISyntaxException | SecurityException e) {
            // fall through to the error below
        }
        throw new BadInputException("cannot find " + SPEC + " above " + Path.of("").toAbsolutePath() + "; pass --project DIR");
    }
}
