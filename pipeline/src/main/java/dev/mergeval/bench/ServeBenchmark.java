package dev.mergeval.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.checkpoint.HadoopFs;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.common.Mappers;
import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.LanguageModel;
import dev.mergeval.serve.OpenAiServer;
import dev.mergeval.serve.ServeOptions;
import dev.mergeval.source.ModelSource;
import dev.mergeval.source.ModelSources;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Tokens per second of {@code mergeval serve} ({@link OpenAiServer}) under 1, 8 and 32 concurrent
 * clients, against the runtime's own batch generation of the same prompts in the same run.
 *
 * <pre>
 * mergeval bench serve [--model SOURCE] [--clients 1,8,32] [--prompts N] [--max-tokens M]
 *     [--max-batch B] [--threads T] [--repeats R]
 * </pre>
 *
 * <p>Both sides generate the same {@code N} prompts greedily, {@code M} tokens at most, with
 * batches of at most {@code B}: the baseline hands all of them to
 * {@link DjlLanguageModel#generateIds} at once (its best case: full batches, no HTTP); the server
 * gets them from {@code C} client threads in this JVM, each sending {@code /v1/completions}
 * requests one after the other over loopback HTTP until the prompts run out. Tokens are the
 * completion tokens (the server's {@code usage}); each figure is the best of {@code R} runs, the
 * baseline run right before each server run so that both see the same machine load. The run also
 * checks that every served text equals the baseline's.
 */
public final class ServeBenchmark {

    private static final com.sun.management.OperatingSystemMXBean CPU =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    private static final String[] ANIMALS = {"cat", "dog", "bird", "fish", "bear", "frog", "duck", "lion"};
    private static final String[] OPENINGS = {"Once upon a time, there was a little %s", "One day, a %s went to the park",
        "The %s was very happy because", "Lily saw a big %s and"};

    private ServeBenchmark() {
    }

    /** One table row: a level of concurrency, both sides' tokens per second (wall and per CPU-second). */
    public record Row(int clients, int tokens, double batchTps, double serveTps, double batchTpsCpu, double serveTpsCpu,
            int largestBatch, boolean identical) {
        public double ratio() {
            return serveTps / batchTps;
        }
    }

    /** Runs the benchmark and prints the table; returns its rows. */
    public static List<Row> run(ModelSource source, List<Integer> clientCounts, int prompts, int maxTokens, int maxBatch,
            int threads, int repeats) throws Exception {
        List<String> texts = prompts(prompts);
        ServeOptions options = ServeOptions.of(source).withPort(0).withMaxBatch(maxBatch).withThreads(threads);
        List<Row> rows = new ArrayList<>();
        try (LanguageModel lm = ModelSources.load(source, HadoopFs.defaults(), options.runtimeOptions());
                OpenAiServer server = OpenAiServer.start(options)) {
            DjlLanguageModel model = (DjlLanguageModel) lm;
            System.out.printf("model=%s prompts=%d max_tokens=%d max_batch=%d threads=%d repeats=%d%n",
                    source.text(), prompts, maxTokens, maxBatch, threads, repeats);
            System.out.println("| clients | completion tokens | batch generation tok/s | serve tok/s | serve / batch "
                    + "| batch tok/CPU-s | serve tok/CPU-s | largest served batch | texts identical |");
            System.out.println("|---|---|---|---|---|---|---|---|---|");
            HttpClient http = HttpClient.newBuilder().executor(Executors.newCachedThreadPool()).build();
            List<int[]> ids = texts.stream().map(t -> model.tokenizer().encode(t)).toList();
            long[] keys = texts.stream().mapToLong(KeyedRandom::textKey).toArray();
            GenerationParams params = GenerationParams.greedy(maxTokens);
            List<GenerationParams> settings = java.util.Collections.nCopies(texts.size(), params);
            // warm-up of both paths
            model.generateIds(ids.subList(0, Math.min(4, ids.size())), keys, settings.subList(0, Math.min(4, ids.size())),
                    null);
            serve(http, server, texts.subList(0, Math.min(4, texts.size())), maxTokens, 1);
            for (int clients : clientCounts) {
                double[] batch = {0, 0};
                double[] served = {0, 0};
                int tokens = 0;
                boolean identical = true;
                server.takeLargestBatch();
                for (int rep = 0; rep < repeats; rep++) {
                    long c0 = CPU.getProcessCpuTime();
                    long t0 = System.nanoTime();
                    List<Completion> reference = model.generateIds(ids, keys, settings, null);
                    double wall = (System.nanoTime() - t0) / 1e9;
                    double cpu = (CPU.getProcessCpuTime() - c0) / 1e9;
                    int refTokens = reference.stream().mapToInt(c -> c.outputIds().size()).sum();
                    batch[0] = Math.max(batch[0], refTokens / wall);
                    batch[1] = Math.max(batch[1], refTokens / cpu);

                    c0 = CPU.getProcessCpuTime();
                    t0 = System.nanoTime();
                    Served s = serve(http, server, texts, maxTokens, clients);
                    wall = (System.nanoTime() - t0) / 1e9;
                    cpu = (CPU.getProcessCpuTime() - c0) / 1e9;
                    served[0] = Math.max(served[0], s.tokens() / wall);
                    served[1] = Math.max(served[1], s.tokens() / cpu);
                    tokens = s.tokens();
                    for (int i = 0; i < texts.size(); i++) {
                        identical &= reference.get(i).text().equals(s.texts()[i]);
                    }
                    identical &= refTokens == s.tokens();
                }
                Row row = new Row(clients, tokens, batch[0], served[0], batch[1], served[1], server.takeLargestBatch(),
                        identical);
                rows.add(row);
                System.out.printf("| %d | %d | %.0f | %.0f | %.2fx | %.0f | %.0f | %d | %s |%n", clients, tokens,
                        row.batchTps(), row.serveTps(), row.ratio(), row.batchTpsCpu(), row.serveTpsCpu(),
                        row.largestBatch(), identical ? "yes" : "NO");
            }
        }
        return rows;
    }

    private record Served(int tokens, String[] texts) {
    }

    /** Sends every prompt from {@code clients} threads, one request at a time each. */
    private static Served serve(HttpClient http, OpenAiServer server, List<String> texts, int maxTokens, int clients)
            throws Exception {
        AtomicInteger next = new AtomicInteger();
        AtomicInteger tokens = new AtomicInteger();
        String[] out = new String[texts.size()];
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                running.add(pool.submit(() -> {
                    for (int i = next.getAndIncrement(); i < texts.size(); i = next.getAndIncrement()) {
                        String body = Mappers.JSON.writeValueAsString(Map.of("model", server.modelName(),
                                "prompt", texts.get(i), "max_tokens", maxTokens, "temperature", 0));
                        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl()
                                + "/completions")).header("Content-Type", "application/json")
                                .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        JsonNode json = Mappers.JSON.readTree(r.body());
                        if (r.statusCode() != 200) {
                            throw new IllegalStateException("HTTP " + r.statusCode() + ": " + r.body());
                        }
                        out[i] = json.at("/choices/0/text").asText();
                        tokens.addAndGet(json.at("/usage/completion_tokens").asInt());
                    }
                    return null;
                }));
            }
            for (Future<?> f : running) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        return new Served(tokens.get(), out);
    }

    /** {@code n} short story openings, each different (so each has its own sampler stream and answer). */
    static List<String> prompts(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String opening = String.format(OPENINGS[i % OPENINGS.length], ANIMALS[(i / OPENINGS.length) % ANIMALS.length]);
            int round = i / (OPENINGS.length * ANIMALS.length);
            out.add(round == 0 ? opening : opening + " (" + round + ")");
        }
        return out;
    }
}
