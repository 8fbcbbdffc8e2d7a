package dev.mergeval.jobs.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.runtime.LogLikelihood;
import dev.mergeval.runtime.LogLikelihoodRequest;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code mergeval score}: total log-likelihood (natural log) of a continuation given a context,
 * its token count and character length, and whether greedy decoding would produce it.
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Log-likelihood of a continuation given a context.")
final class ScoreCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--context", required = true, paramLabel = "TEXT")
    String context;

    @Option(names = "--continuation", required = true, paramLabel = "TEXT")
    String continuation;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        model.check();
        try (LanguageModel lm = model.load()) {
            LogLikelihood ll = lm.logLikelihood(List.of(new LogLikelihoodRequest(context, continuation))).get(0);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectMapper mapper = Mappers.JSON;
                ObjectNode o = mapper.createObjectNode();
                o.put("log_likelihood", ll.logProb());
                o.put("token_count", ll.tokenCount());
                o.put("char_length", ll.charLength());
                o.put("greedy", ll.greedy());
                out.println(mapper.writeValueAsString(o));
            } else {
                out.printf("log_likelihood=%.6f tokens=%d chars=%d greedy=%s%n",
                        ll.logProb(), ll.tokenCount(), ll.charLength(), ll.greedy());
            }
            out.flush();
        }
        return MergevalCli.EXIT_OK;
    }
}
