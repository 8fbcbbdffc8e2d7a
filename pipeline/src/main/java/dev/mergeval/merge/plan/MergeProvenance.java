package dev.mergeval.merge.plan;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.mergeval.common.Mappers;
import dev.mergeval.common.MergevalVersion;
import java.util.List;
import java.util.Map;

/**
 * How an output checkpoint was made, written beside it as {@value #FILE}: the normalized config,
 * every input shard with its SHA-256, method, parameters, seed, the plan, the executor, the output
 * shards with their SHA-256, the method's plan-time analysis (its summary and per-tensor decisions,
 * for instance Safe LoRA's cosine per matrix), and the software versions. Written last, as
 * {@link dev.mergeval.checkpoint.OutputPublisher#PROVENANCE_FILE}: its presence marks the output
 * complete.
 *
 * @param inputShards per input ({@link PlanInput#key()}), its shard files with their SHA-256
 */
public record MergeProvenance(
        MergePlan plan,
        String method,
        Map<String, Object> parameters,
        Map<String, List<FileHash>> inputShards,
        List<MergeCommitter.WrittenShard> outputShards,
        String executor,
        long wallMillis) {

    /** A file and its SHA-256. */
    public record FileHash(String path, long bytes, String sha256) {
    }

    public String toJson() {
        ObjectMapper mapper = Mappers.PRETTY;
        ObjectNode root = mapper.createObjectNode();
        root.put("kind", "merge");
        root.put("mergeval_version", MergevalVersion.VERSION);
        root.put("merge_method", method);
        root.set("parameters", mapper.valueToTree(parameters));
        root.put("seed", plan.seed());
        root.put("config", plan.configYaml());
        ArrayNode inputs = root.putArray("inputs");
        for (PlanInput in : plan.inputs()) {
            ObjectNode node = inputs.addObject();
            node.put("model", in.ref());
            if (in.isExtra()) {
                node.put("parameter", in.parameter());
            }
            node.put("uri", in.uri());
            ArrayNode shards = node.putArray("shards");
            for (FileHash h : inputShards.getOrDefault(in.key(), List.of())) {
                shards.addObject().put("path", h.path()).put("bytes", h.bytes()).put("sha256", h.sha256());
            }
        }
        ObjectNode output = root.putObject("output");
        output.put("total_size", plan.totalBytes());
        ArrayNode shards = output.putArray("shards");
        for (MergeCommitter.WrittenShard s : outputShards) {
            shards.addObject().put("file", s.fileName()).put("bytes", s.bytes()).put("sha256", s.sha256());
        }
        ObjectNode planNode = root.putObject("plan");
        planNode.put("plan_id", plan.planId());
        planNode.put("num_layers", plan.numLayers());
        planNode.put("max_shard_bytes", plan.maxShardBytes());
        planNode.put("copy_source", plan.copySource());
        ArrayNode units = planNode.putArray("units");
        for (WorkUnit u : plan.units()) {
            ObjectNode unit = units.addObject().put("id", u.id()).put("group", u.group()).put("bytes", plan.unitBytes(u));
            ArrayNode slices = unit.putArray("slices");
            for (TensorSlice s : u.slices()) {
                slices.addObject().put("tensor", s.tensor()).put("element_offset", s.elementOffset())
                        .put("element_count", s.elementCount());
            }
        }
        if (!plan.analysis().isEmpty()) {
            ObjectNode analysis = root.putObject("analysis");
            analysis.setAll((ObjectNode) mapper.valueToTree(plan.analysis().summary()));
            ObjectNode tensors = analysis.putObject("tensors");
            plan.analysis().decisions().forEach((name, d) -> tensors.set(name, mapper.valueToTree(d.provenance())));
        }
        ObjectNode env = root.putObject("environment");
        env.put("executor", executor);
        env.put("wall_ms", wallMillis);
        env.put("java", System.getProperty("java.version"));
        env.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        env.put("arch", System.getProperty("os.arch"));
        try {
            return mapper.writeValueAsString(root);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
