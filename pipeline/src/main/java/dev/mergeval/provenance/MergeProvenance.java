package dev.mergeval.provenance;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;
import dev.mergeval.common.FileDigest;
import java.util.List;
import java.util.Map;

/**
 * How a merged checkpoint was made ({@code mergeval merge}, a sweep's materialized merge), written
 * beside it as {@code mergeval_provenance.json}, last: its presence marks the output complete.
 *
 * @param kind            {@value #KIND}
 * @param mergevalVersion the version that merged (also in {@link #environment()})
 * @param mergeMethod     the method's name
 * @param parameters      the config's global parameters, as written
 * @param seed            the seed of the random methods (DARE, DELLA)
 * @param config          the normalized merge config (YAML)
 * @param inputs          every input model with its shard files and their digests (XXH64 by
 *                        default, SHA-256 when asked for: {@link FileDigest})
 * @param output          the written shards with their digests, of the same kind
 * @param plan            the work units the merge ran as
 * @param analysis        the method's plan-time analysis: its summary plus {@code tensors}, the
 *                        per-tensor decisions; absent for methods without one
 * @param executor        where the units ran, e.g. {@code threads(2)} or {@code spark(local[2])}
 * @param wallMs          the merge's wall time in milliseconds
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record MergeProvenance(
        String kind,
        String mergevalVersion,
        String mergeMethod,
        JsonNode parameters,
        long seed,
        String config,
        List<Input> inputs,
        Output output,
        Plan plan,
        @JsonInclude(JsonInclude.Include.NON_NULL) JsonNode analysis,
        String executor,
        long wallMs,
        Environment environment) implements Provenance {

    public static final String KIND = "merge";

    public MergeProvenance {
        parameters = Provenance.tree(parameters);
        analysis = Provenance.tree(analysis);
        inputs = List.copyOf(inputs);
    }

    /**
     * An input model.
     *
     * @param model     its reference in the config
     * @param parameter the parameter naming it, for an extra model (e.g. {@code unaligned_model})
     * @param uri       where it was read
     * @param shards    its shard files
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Input(String model, @JsonInclude(JsonInclude.Include.NON_NULL) String parameter, String uri,
                        List<FileHash> shards) {
        public Input {
            shards = List.copyOf(shards);
        }
    }

    /** The output: its total tensor bytes and its shards. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Output(long totalSize, List<Shard> shards) {
        public Output {
            shards = List.copyOf(shards);
        }
    }

    /** A written shard: its file name, length and digest (SHA-256 or XXH64, as {@link FileHash}). */
    public record Shard(String file, long bytes, @JsonInclude(JsonInclude.Include.NON_NULL) String sha256,
                        @JsonInclude(JsonInclude.Include.NON_NULL) String xxh64) {

        /** A shard with its digest of kind {@code kind}. */
        public static Shard of(String file, long bytes, FileDigest kind, String hex) {
            return kind == FileDigest.SHA256 ? new Shard(file, bytes, hex, null) : new Shard(file, bytes, null, hex);
        }
    }

    /**
     * The plan: its id, (output) layer count, shard size limit, the model whose files were copied,
     * the units, and for a merge of layer slices where each output layer comes from.
     */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Plan(String planId, int numLayers, long maxShardBytes, String copySource, List<Unit> units,
                       @JsonInclude(JsonInclude.Include.NON_NULL) List<Layer> layers) {
        public Plan {
            units = List.copyOf(units);
            layers = layers == null ? null : List.copyOf(layers);
        }
    }

    /**
     * An output layer of a merge of layer slices.
     *
     * @param layer   its index in the output (in its module's layers)
     * @param slice   the index of the slice it comes from
     * @param sources the layer of each source model it was merged from, by model reference
     * @param module  its module, for a {@code modules:} config (absent otherwise)
     */
    public record Layer(int layer, int slice, Map<String, Integer> sources,
            @JsonInclude(JsonInclude.Include.NON_NULL) String module) {
    }

    /** A work unit: its id, group, bytes written and the tensor slices it computes. */
    public record Unit(int id, String group, long bytes, List<Slice> slices) {
        public Unit {
            slices = List.copyOf(slices);
        }
    }

    /** A slice of a tensor, in elements. */
    @JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
    public record Slice(String tensor, long elementOffset, long elementCount) {
    }
}
