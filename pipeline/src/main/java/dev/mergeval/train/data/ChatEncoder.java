package dev.mergeval.train.data;

import dev.mergeval.common.BadInputException;
import dev.mergeval.runtime.ChatMessage;
import dev.mergeval.runtime.tokenizer.ModelTokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns chat records into training sequences with a model's chat template and tokenizer, the
 * way the model is prompted at inference: for each assistant turn {@code i} of a record, the
 * prompt is {@code encode(template(messages[0..i), add_generation_prompt = true))} (BOS as the
 * tokenizer adds it) and the response is the turn's content encoded on its own, without BOS,
 * followed by the EOS id. So the loss covers exactly the tokens the model must generate after
 * the generation prompt, and the stop token. A record with {@code n} assistant turns gives
 * {@code n} sequences, each conditioned on the rendered history before its turn.
 *
 * <p>Why not mask one rendering of the whole conversation: token boundaries at the prompt/answer
 * seam then depend on the tokenizer (SentencePiece merges the space the template puts after
 * {@code Assistant:}), and the training tokens would differ from what greedy decoding produces
 * after the generation prompt.
 */
public final class ChatEncoder {

    /** How a conversation prefix becomes prompt text: the model's chat template. */
    @FunctionalInterface
    public interface Renderer {
        String render(List<ChatMessage> messages, boolean addGenerationPrompt);
    }

    private final Renderer renderer;
    private final ModelTokenizer tokenizer;
    private final int maxPositions;

    /**
     * @param maxPositions the model's {@code max_position_embeddings}: a longer sequence is an error
     */
    public ChatEncoder(Renderer renderer, ModelTokenizer tokenizer, int maxPositions) {
        this.renderer = renderer;
        this.tokenizer = tokenizer;
        this.maxPositions = maxPositions;
    }

    /** Every assistant turn of every record, in order. */
    public List<TrainingSequence> encode(List<ChatRecord> records) {
        if (tokenizer.eosId() < 0) {
            throw new BadInputException("the model's tokenizer has no EOS token to end assistant turns with");
        }
        List<TrainingSequence> out = new ArrayList<>();
        for (ChatRecord r : records) {
            out.addAll(encode(r));
        }
        return out;
    }

    /** The sequences of one record's assistant turns. */
    public List<TrainingSequence> encode(ChatRecord record) {
        List<TrainingSequence> out = new ArrayList<>();
        List<ChatMessage> messages = record.messages();
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).role().equals("assistant")) {
                continue;
            }
            String prompt;
            try {
                prompt = renderer.render(messages.subList(0, i), true);
            } catch (BadInputException e) {
                throw new BadInputException(record.where() + ": " + e.getMessage(), e);
            }
            int[] promptIds = tokenizer.encode(prompt);
            if (promptIds.length == 0) {
                throw new BadInputException(record.where() + ": assistant turn " + i
                        + " has an empty prompt (no BOS and an empty rendering)");
            }
            int[] body = tokenizer.encode(messages.get(i).content(), false);
            int[] response = new int[body.length + 1];
            System.arraycopy(body, 0, response, 0, body.length);
            response[body.length] = tokenizer.eosId();
            // the last token is only a target: the model reads length - 1 positions
            if (promptIds.length + response.length - 1 > maxPositions) {
                throw new BadInputException(record.where() + ": assistant turn " + i + " needs "
                        + (promptIds.length + response.length - 1) + " positions, more than the model's "
                        + maxPositions);
            }
            out.add(new TrainingSequence(promptIds, response));
        }
        return out;
    }
}
