package dev.mergeval.merge;

import dev.mergeval.checkpoint.Checkpoint;
import dev.mergeval.checkpoint.RenamingCheckpoint;
import java.util.ArrayList;
import java.util.List;

/**
 * A merge input seen with its output head tied as the merge's reference model has it. A model
 * with tied embeddings stores no {@code lm_head.weight}: its head is its input embedding matrix.
 * mergekit's architectures name that embedding as the head's {@code tied_names}, and a model
 * without the head is read through them. So here:
 *
 * <ul>
 *   <li>the reference has a head and this model has none: this model's {@code lm_head.weight} is its
 *       input embedding ({@code model.embed_tokens.weight}, or GPT-2's {@code transformer.wte.weight}
 *       or {@code wte.weight});</li>
 *   <li>the reference has none (its config ties them) and this model has one: the output, like the
 *       reference, has no head, and this model's is not read. mergekit would merge a head from the
 *       reference's embedding and this one and write it beside a config that ties it, where
 *       transformers ignores it.</li>
 * </ul>
 *
 * Every other name reads through to the model. {@link #aliased} is the first rule alone, for
 * {@code extract-lora}'s two models.
 */
public final class TiedHead extends RenamingCheckpoint {

    static final String HEAD = "lm_head.weight";
    /** The input embeddings mergekit's definitions tie a head to: GPT-2's as transformers saves it and as the Hub has it. */
    private static final List<String> EMBEDDINGS = List.of("model.embed_tokens.weight", "transformer.wte.weight",
            "wte.weight");

    /** The embedding read as the head; null where the head is hidden. */
    private final String embedding;

    private TiedHead(Checkpoint model, String embedding) {
        super(model);
        this.embedding = embedding;
    }

    /** {@code model} as a merge whose reference model is {@code reference} reads it. */
    static Checkpoint view(Checkpoint model, Checkpoint reference) {
        if (model.contains(HEAD) == reference.contains(HEAD)) {
            return model;
        }
        if (reference.contains(HEAD)) {
            return aliased(model, reference);
        }
        return EMBEDDINGS.stream().anyMatch(reference::contains) ? new TiedHead(model, null) : model;
    }

    /**
     * {@code model} with its input embedding read as its head where it has none and {@code other}
     * has one; else {@code model} itself.
     */
    public static Checkpoint aliased(Checkpoint model, Checkpoint other) {
        if (model.contains(HEAD) || !other.contains(HEAD)) {
            return model;
        }
        return EMBEDDINGS.stream().filter(model::contains).findFirst()
                .<Checkpoint>map(e -> new TiedHead(model, e)).orElse(model);
    }

    /** The name this model stores {@code name} under (the head: its embedding). */
    @Override
    protected String stored(String name) {
        return embedding != null && name.equals(HEAD) ? embedding : name;
    }

    @Override
    public List<String> tensorNames() {
        List<String> names = new ArrayList<>(model.tensorNames());
        if (embedding != null) {
            names.add(HEAD);
        } else {
            names.remove(HEAD);
        }
        return names;
    }

    @Override
    public boolean contains(String name) {
        if (name.equals(HEAD)) {
            return embedding != null;
        }
        return model.contains(name);
    }
}
