package dev.mergeval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.mergeval.common.BadInputException;
import dev.mergeval.common.KeyedRandom;
import dev.mergeval.runtime.chat.ChatTemplate;
import dev.mergeval.runtime.generation.BatchGenerator;
import dev.mergeval.runtime.generation.BatchScorer;
import dev.mergeval.runtime.llama.LlamaForward;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A Llama-family model on DJL/PyTorch: parameters owned by one manager, each call in its own
 * sub-manager. Requests are sorted by token length and cut into batches of at most
 * {@link RuntimeOptions#maxBatchSize()} (less padding); results come back in request order.
 */
public final class DjlLanguageModel implements LanguageModel {

    private final String id;
    private final RuntimeOptions options;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    private final LlamaForward forward;
    private final ModelTokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private final GenerationDefaults defaults;

    DjlLanguageModel(String id, RuntimeOptions options, NDManager manager, Map<String, NDArray> params,
            LlamaForward forward, ModelTokenizer tokenizer, ChatTemplate chatTemplate, GenerationDefaults defaults) {
        this.id = id;
        this.options = options;
        this.manager = manager;
        this.params = params;
        this.forward = forward;
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.defaults = defaults;
    }

    @Override
    public String id() {
        return id;
    }

    public ModelTokenizer tokenizer() {
        return tokenizer;
    }

    public LlamaForward forward() {
        return forward;
    }

    /** The loaded parameters by Hugging Face name (owned by this model: do not close). */
    public Map<String, NDArray> parameters() {
        return params;
    }

    /** Token ids that end a generation. */
    public java.util.Set<Integer> eosIds() {
        return defaults.eosIds();
    }

    /**
     * The model's chat template applied to {@code messages}; without a template, the message
     * contents joined by blank lines (a plain prompt).
     */
    @Override
    public String renderChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (chatTemplate == null) {
            return messages.stream().map(ChatMessage::content).collect(Collectors.joining("\n\n"));
        }
        return chatTemplate.render(messages, addGenerationPrompt);
    }

    public boolean hasChatTemplate() {
        return chatTemplate != null;
    }

    @Override
    public List<Completion> generate(List<String> prompts, GenerationParams params) {
        List<int[]> ids = prompts.stream().map(tokenizer::encode).toList();
        int positions = forward.config().maxPositionEmbeddings();
        for (int i = 0; i < ids.size(); i++) {
            if (ids.get(i).length == 0) {
                throw new BadInputException("prompt " + i + " of " + id + " encodes to no tokens (an empty text, and"
                        + " the tokenizer adds no BOS)");
            }
            // A prompt that fills the context gets no token: an empty completion a judge would score.
            if (ids.get(i).length >= positions && params.maxNewTokens() > 0) {
                String text = prompts.get(i);
                throw new BadInputException("a prompt of " + ids.get(i).length + " tokens leaves no room in " + id
                        + "'s " + positions + " positions for a completion (it begins '"
                        + text.substring(0, Math.min(60, text.length())).replace('\n', ' ') + "')");
            }
        }
        long[] keys = prompts.stream().mapToLong(KeyedRandom::textKey).toArray();
        return generateIds(ids, keys, params);
    }

    /** Generation from token ids; {@code streamKeys} seed each prompt's sampler. */
    public List<Completion> generateIds(List<int[]> prompts, long[] streamKeys, GenerationParams params) {
        return generateIds(prompts, streamKeys, Collections.nCopies(prompts.size(), params), null);
    }

    /**
     * Generation from token ids with settings per prompt ({@code params.get(i)} for prompt {@code i}),
     * in batches of at most {@link RuntimeOptions#maxBatchSize()}; {@code listener} (may be null) sees
     * every token and each row's end with the prompt's index. A server batches concurrent requests
     * through this.
     */
    public List<Completion> generateIds(List<int[]> prompts, long[] streamKeys, List<GenerationParams> params,
            BatchGenerator.TokenListener listener) {
        applyThreads();
        BatchGenerator generator = new BatchGenerator(forward, this.params, defaults.eosIds(), tokenizer::decodeAfter);
        Completion[] out = new Completion[prompts.size()];
        for (int[] chunk : chunks(prompts)) {
            List<int[]> batch = Arrays.stream(chunk).mapToObj(prompts::get).toList();
            List<GenerationParams> settings = Arrays.stream(chunk).mapToObj(params::get).toList();
            long[] keys = Arrays.stream(chunk).mapToLong(i -> streamKeys[i]).toArray();
            BatchGenerator.TokenListener rows = listener == null ? null : new BatchGenerator.TokenListener() {
                @Override
                public void onToken(int row, int token, float[] logits, String finishReason) {
                    listener.onToken(chunk[row], token, logits, finishReason);
                }

                @Override
                public void onFinish(int row, Completion completion) {
                    listener.onFinish(chunk[row], completion);
                }
            };
            List<Completion> done = generator.generate(manager, batch, keys, settings, rows);
            for (int i = 0; i < chunk.length; i++) {
                out[chunk[i]] = done.get(i);
            }
        }
        return Arrays.asList(out);
    }

    /**
     * Log-probability of every token of each sequence given the ones before it, with each position's
     * {@code topK} most likely tokens ({@link BatchScorer#tokenLogProbs}), in batches.
     */
    public List<BatchScorer.TokenLogProbs> tokenLogProbs(List<int[]> sequences, int topK) {
        applyThreads();
        BatchScorer scorer = new BatchScorer(forward, params);
        BatchScorer.TokenLogProbs[] out = new BatchScorer.TokenLogProbs[sequences.size()];
        for (int[] chunk : chunks(sequences)) {
            List<int[]> batch = Arrays.stream(chunk).mapToObj(sequences::get).toList();
            List<BatchScorer.TokenLogProbs> scores = scorer.tokenLogProbs(manager, batch, topK);
            for (int i = 0; i < chunk.length; i++) {
                out[chunk[i]] = scores.get(i);
            }
        }
        return Arrays.asList(out);
    }

    @Override
    public List<LogLikelihood> logLikelihood(List<LogLikelihoodRequest> requests) {
        applyThreads();
        List<BatchScorer.Tokens> tokens = requests.stream().map(this::encodePair).toList();
        List<int[]> lengths = tokens.stream()
                .map(t -> new int[t.context().length + t.continuation().length]).toList();
        BatchScorer scorer = new BatchScorer(forward, params);
        LogLikelihood[] out = new LogLikelihood[requests.size()];
        for (int[] chunk : chunks(lengths)) {
            List<BatchScorer.Tokens> batch = Arrays.stream(chunk).mapToObj(tokens::get).toList();
            List<BatchScorer.Score> scores = scorer.score(manager, batch);
            for (int i = 0; i < chunk.length; i++) {
                LogLikelihoodRequest r = requests.get(chunk[i]);
                BatchScorer.Score s = scores.get(i);
                out[chunk[i]] = new LogLikelihood(s.logProb(), batch.get(i).continuation().length,
                        r.continuation().codePointCount(0, r.continuation().length()), s.greedy());
            }
        }
        return Arrays.asList(out);
    }

    /**
     * Context and continuation tokens as lm-evaluation-harness splits them: trailing whitespace
     * of the context moves to the continuation, the pair is encoded whole, and the continuation is
     * what follows the context's own encoding (so merges across the boundary count once). A
     * context longer than the model's window loses tokens from the left.
     */
    BatchScorer.Tokens encodePair(LogLikelihoodRequest r) {
        String context = r.context();
        String continuation = r.continuation();
        if (continuation.isEmpty()) {
            throw new BadInputException("log-likelihood request has an empty continuation");
        }
        int kept = context.length();
        while (kept > 0 && isPythonSpace(context.codePointBefore(kept))) {
            kept -= Character.charCount(context.codePointBefore(kept));
        }
        continuation = context.substring(kept) + continuation;
        context = context.substring(0, kept);
        int[] whole = tokenizer.encode(context + continuation);
        int[] ctx = tokenizer.encode(context);
        // The harness's whole[len(context):], also where the context's tokens are not a prefix of the
        // pair's (a context ending mid-word): the boundary then falls where the context's count says.
        int[] cont = ctx.length == 0 ? tokenizer.encode(continuation, false)
                : Arrays.copyOfRange(whole, Math.min(ctx.length, whole.length), whole.length);
        if (ctx.length > 0 && cont.length == 0) {
            throw new BadInputException("context '" + r.context() + "' encodes to " + ctx.length + " tokens, as many as"
                    + " context and continuation '" + r.continuation() + "' together: the harness's split (the pair's"
                    + " tokens after the context's count) leaves none to score");
        }
        if (ctx.length == 0) {
            int start = tokenizer.bosId() >= 0 ? tokenizer.bosId() : tokenizer.eosId();
            if (start < 0) {
                throw new BadInputException("empty context and the tokenizer has no BOS or EOS token to start from");
            }
            ctx = new int[] {start};
        }
        if (cont.length == 0) {
            throw new BadInputException("continuation '" + r.continuation() + "' encodes to no tokens");
        }
        int window = forward.config().maxPositionEmbeddings() + 1;
        if (cont.length >= window) {
            throw new BadInputException("continuation of " + cont.length + " tokens does not fit the model's "
                    + (window - 1) + " positions");
        }
        if (ctx.length + cont.length > window) {
            ctx = Arrays.copyOfRange(ctx, ctx.length + cont.length - window, ctx.length);
        }
        return new BatchScorer.Tokens(ctx, cont);
    }

    /** Python's {@code str.isspace} for one code point, which the harness's {@code rstrip()} strips. */
    static boolean isPythonSpace(int cp) {
        return Character.isWhitespace(cp) || cp == 0x85 || cp == 0xA0 || cp == 0x2007 || cp == 0x202F;
    }

    /** Request indices sorted by length, cut into batches. */
    private List<int[]> chunks(List<int[]> sequences) {
        Integer[] order = new Integer[sequences.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt(i -> sequences.get(i).length));
        List<int[]> out = new ArrayList<>();
        for (int from = 0; from < order.length; from += options.maxBatchSize()) {
            int to = Math.min(order.length, from + options.maxBatchSize());
            out.add(Arrays.stream(order, from, to).mapToInt(Integer::intValue).toArray());
        }
        return out;
    }

    /** Arrays alive under this model's manager (its parameters, when no call is running). */
    int liveArrays() {
        return manager.getManagedArrays().size();
    }

    private void applyThreads() {
        if (options.threads() > 0) {
            // per calling thread: OpenMP's thread count is thread-local
            JniUtils.setNumThreads(options.threads());
        }
    }

    @Override
    public void close() {
        manager.close();
        tokenizer.close();
    }
}
