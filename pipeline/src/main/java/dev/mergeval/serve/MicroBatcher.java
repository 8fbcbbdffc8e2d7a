package dev.mergeval.serve;

import dev.mergeval.runtime.Completion;
import dev.mergeval.runtime.DjlLanguageModel;
import dev.mergeval.runtime.GenerationParams;
import dev.mergeval.runtime.generation.BatchGenerator;
import dev.mergeval.runtime.generation.BatchScorer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs every request on one model thread, in batches: it takes the first queued piece of work, then
 * whatever else is queued, and, when clients are concurrent (one of the last four batches held more
 * than one request, or more than one is queued now), waits for more: until as many as the largest
 * recent batch held are there (clients that were answered together come back together), then while
 * they keep arriving within the batch window, never longer than {@value #WINDOWS_PER_BATCH} windows
 * in all and to at most {@code maxBatch}; the batch's
 * prompt scorings run as one {@link DjlLanguageModel#tokenLogProbs} call and its generations as one
 * {@link DjlLanguageModel#generateIds} call, each row with its own settings. A row's tokens do not
 * depend on the batch it lands in (the runtime's batch invariance), so answers are the same alone
 * or under load. A lone client never waits for the window. A request is answered as soon as its row
 * ends (an EOS token, a stop string, its budget), not when its batch does; its next request waits
 * for the next batch (micro-batching, not continuous batching).
 */
final class MicroBatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(MicroBatcher.class);

    /** The longest a batch waits for more requests, in batch windows. */
    private static final int WINDOWS_PER_BATCH = 10;

    /**
     * Sees each generated token of one request on the model thread (keep it short), with the reason
     * the request finished at it ({@code eos}, {@code stop}, {@code length}) or null.
     */
    @FunctionalInterface
    interface TokenSink {
        void onToken(int token, float[] logits, String finishReason);
    }

    /** One prompt to continue; {@code sink} may be null. */
    record Generation(int[] prompt, long streamKey, GenerationParams params, TokenSink sink,
            CompletableFuture<Completion> result) {
        Generation(int[] prompt, long streamKey, GenerationParams params, TokenSink sink) {
            this(prompt, streamKey, params, sink, new CompletableFuture<>());
        }
    }

    /** One token sequence to score token by token, with {@code topK} alternatives per position. */
    record Scoring(int[] tokens, int topK, CompletableFuture<BatchScorer.TokenLogProbs> result) {
        Scoring(int[] tokens, int topK) {
            this(tokens, topK, new CompletableFuture<>());
        }
    }

    private final DjlLanguageModel model;
    private final int maxBatch;
    private final long windowNanos;
    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean closed;
    /** Sizes of the last few batches: were clients concurrent lately? */
    private final int[] recent = new int[4];
    private long batches;
    private volatile int largestBatch;

    MicroBatcher(DjlLanguageModel model, int maxBatch, long windowNanos) {
        this.model = model;
        this.maxBatch = maxBatch;
        this.windowNanos = windowNanos;
        this.thread = new Thread(this::loop, "mergeval-serve-model");
        thread.setDaemon(true);
        thread.start();
    }

    /** The most requests one batch has held since the last call, and starts counting anew. */
    int takeLargestBatch() {
        int n = largestBatch;
        largestBatch = 0;
        return n;
    }

    void submit(Generation g) {
        enqueue(g, g.result());
    }

    void submit(Scoring s) {
        enqueue(s, s.result());
    }

    private void enqueue(Object work, CompletableFuture<?> result) {
        if (closed) {
            result.completeExceptionally(shuttingDown());
            return;
        }
        queue.add(work);
    }

    private void loop() {
        try {
            while (!closed) {
                List<Object> batch = nextBatch();
                if (!batch.isEmpty()) {
                    run(batch);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            List<Object> left = new ArrayList<>();
            queue.drainTo(left);
            left.forEach(w -> result(w).completeExceptionally(shuttingDown()));
        }
    }

    private List<Object> nextBatch() throws InterruptedException {
        List<Object> batch = new ArrayList<>();
        Object first = queue.poll(200, TimeUnit.MILLISECONDS);
        if (first == null) {
            return batch;
        }
        batch.add(first);
        queue.drainTo(batch, maxBatch - batch.size());
        int expected = Math.min(maxBatch, Arrays.stream(recent).max().orElse(0));
        if (expected > 1 || batch.size() > 1) {
            // Concurrent clients come back together: wait for as many as the recent batches held
            // (up to the cap), then for more while they keep arriving within the window.
            long now = System.nanoTime();
            long cap = now + WINDOWS_PER_BATCH * windowNanos;
            long quiet = now + windowNanos;
            while (batch.size() < maxBatch) {
                long left = (batch.size() < expected ? cap : Math.min(cap, quiet)) - System.nanoTime();
                Object next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : null;
                if (next == null) {
                    break;
                }
                batch.add(next);
                queue.drainTo(batch, maxBatch - batch.size());
                quiet = System.nanoTime() + windowNanos;
            }
        }
        recent[(int) (batches++ % recent.length)] = batch.size();
        largestBatch = Math.max(largestBatch, batch.size());
        return batch;
    }

    private void run(List<Object> batch) {
        List<Scoring> scorings = new ArrayList<>();
        List<Generation> generations = new ArrayList<>();
        for (Object w : batch) {
            if (w instanceof Scoring s) {
                scorings.add(s);
            } else {
                generations.add((Generation) w);
            }
        }
        if (!scorings.isEmpty()) {
            try {
                int topK = scorings.stream().mapToInt(Scoring::topK).max().orElse(0);
                List<BatchScorer.TokenLogProbs> scores = model.tokenLogProbs(
                        scorings.stream().map(Scoring::tokens).toList(), topK);
                for (int i = 0; i < scorings.size(); i++) {
                    scorings.get(i).result().complete(scores.get(i));
                }
            } catch (RuntimeException e) {
                fail(scorings, e);
            }
        }
        if (!generations.isEmpty()) {
            try {
                List<Completion> done = model.generateIds(
                        generations.stream().map(Generation::prompt).toList(),
                        generations.stream().mapToLong(Generation::streamKey).toArray(),
                        generations.stream().map(Generation::params).toList(),
                        new BatchGenerator.TokenListener() {
                            @Override
                            public void onToken(int row, int token, float[] logits, String finishReason) {
                                TokenSink sink = generations.get(row).sink();
                                if (sink != null) {
                                    sink.onToken(token, logits, finishReason);
                                }
                            }

                            @Override
                            public void onFinish(int row, Completion completion) {
                                generations.get(row).result().complete(completion);
                            }
                        });
                for (int i = 0; i < generations.size(); i++) {
                    generations.get(i).result().complete(done.get(i));
                }
            } catch (RuntimeException e) {
                fail(generations, e);
            }
        }
    }

    private static void fail(List<?> works, RuntimeException e) {
        LOG.warn("a batch of {} failed", works.size(), e);
        works.forEach(w -> result(w).completeExceptionally(e));
    }

    private static CompletableFuture<?> result(Object work) {
        return work instanceof Scoring s ? s.result() : ((Generation) work).result();
    }

    private static ApiException shuttingDown() {
        return new ApiException(503, "server_error", "the server is shutting down", null, null);
    }

    /** Stops taking work, fails what is queued, and waits for the running batch to end. */
    @Override
    public void close() {
        closed = true;
        try {
            thread.join(TimeUnit.MINUTES.toMillis(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Object> left = new ArrayList<>();
        queue.drainTo(left);
        left.forEach(w -> result(w).completeExceptionally(shuttingDown()));
    }
}
