package dev.mergeval.jobs.cli;

import dev.mergeval.common.BadInputException;
import dev.mergeval.toy.ToyModelBuilder;
import dev.mergeval.toy.ToyRecipe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code mergeval toy-models --out DIR [--seed N] [--base DIR] [--only M,...] [--finetune-seed N] [--overwrite]}:
 * regenerates the embedded default models (an aligned stories260K chat model, its task fine-tune,
 * the same fine-tune with SPF, and the pre-alignment base) and their datasets under
 * {@code DIR/models/toy} and {@code DIR/data/toy}, each moved into place once built. Run with
 * {@code --out . --overwrite} at the repository root to reproduce the committed files;
 * {@code --only finetuned-spf,base} builds those from the aligned model already there.
 */
@Command(
        name = "toy-models",
        mixinStandardHelpOptions = true,
        description = "Train the embedded default aligned/fine-tuned toy models and write them with their datasets.")
final class ToyModelsCommand implements Callable<Integer> {

    @Option(names = "--out", required = true, description = "Output root: writes models/toy/ and data/toy/ under it.")
    Path out;

    @Option(names = "--seed", defaultValue = "" + ToyRecipe.SEED, description = "Seed of the data and the training order (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--base", description = "The pre-trained stories260K model directory "
            + "(default: shared/models/stories260K in the first ancestor of the working directory that has one).")
    Path base;

    @Option(names = "--only", split = ",", paramLabel = "MODEL",
            description = "Build only these of aligned, finetuned, finetuned-spf, base (default: all); "
                    + "the fine-tunes start from OUT/models/toy/aligned when aligned is not built.")
    List<String> only = ToyModelBuilder.MODELS;

    @Option(names = "--finetune-seed", description = "Training seed of both fine-tunes (default: seed + 1); "
            + "the data and the alignment keep --seed.")
    Long fineTuneSeed;

    @Option(names = "--overwrite", description = "Replace models and datasets already under --out"
            + " (without it, a build that would replace one is refused before training).")
    boolean overwrite;

    @Override
    public Integer call() throws Exception {
        if (only.isEmpty()) {
            throw new BadInputException("--only names no model; expected some of " + ToyModelBuilder.MODELS);
        }
        Path baseModel = base != null ? base : findBase();
        ToyRecipe recipe = ToyRecipe.defaults(seed);
        if (fineTuneSeed != null) {
            recipe = recipe.withFineTuneSeed(fineTuneSeed);
        }
        if (!"AUTO,STRICT".equals(System.getenv("MKL_CBWR"))) {
            System.err.println("toy-models: MKL_CBWR=AUTO,STRICT is not set; the weights will not be bit-reproducible");
        }
        // Fixed intra-op threads: set before the PyTorch engine starts on this thread.
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(recipe.threads()));
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        ToyModelBuilder.Result r = new ToyModelBuilder(baseModel, recipe, System.out::println).build(out, only, overwrite);
        r.scores().forEach((model, s) -> System.out.printf(
                "%-14s refusal %.3f, over-refusal %.3f (borderline) %.3f (benign), task %.3f%n",
                model + ":", s.refusal(), s.overRefusalBorderline(), s.overRefusalBenign(), s.task()));
        return MergevalCli.EXIT_OK;
    }

    private static Path findBase() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path candidate = d.resolve("shared").resolve("models").resolve("stories260K");
            if (Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new BadInputException("cannot find shared/models/stories260K above the working directory; pass --base");
    }
}
