package dev.mergeval.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A method's element-wise kernel gives exactly {@link MergeMethod#merge}'s floats, zeros of either
 * sign, NaNs and a weight sum near zero included: linear, the task-arithmetic family where every
 * fine-tune is kept or dropped whole, nearswap, ram, RESTA with its safety vector whole, and Safe
 * LoRA and SPF on a tensor they leave as the fine-tune; members that trim or draw, RESTA's draws and
 * {@code ramplus_tl} have none.
 */
class ElementwiseKernelTest {
    private static final String TENSOR = "model.layers.1.mlp.up_proj.weight";

    @ParameterizedTest
    @ValueSource(strings = {
        "merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}},"
                + " {model: b, parameters: {weight: 0.45}}]",
        "merge_method: task_arithmetic\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.7}},"
                + " {model: b, parameters: {weight: -0.7}}]\nparameters: {normalize: true, lambda: 1.3}",
        "merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 1.0}},"
                + " {model: b, parameters: {weight: 0.9, density: 1.0}}]",
        "merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.6, density: 1.0}},"
                + " {model: b, parameters: {weight: 0.9, density: 0.0}}]\nparameters: {normalize: false}",
        "merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1.0, density: 1.0}}]",
        "merge_method: dare_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.5, density: 0.0}},"
                + " {model: b, parameters: {weight: 0.5, density: 1.0}}]",
        "merge_method: breadcrumbs_ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.8, density: 1.0}},"
                + " {model: b, parameters: {weight: 0.3, density: -0.5}}]\nparameters: {gamma: 0.01}",
        "merge_method: della\nbase_model: base\nmodels: [{model: a, parameters: {weight: 0.8, density: 1.0}},"
                + " {model: b, parameters: {weight: 0.3, density: 0.0}}]\nparameters: {epsilon: 0.1}",
        "merge_method: linear\nmodels: [{model: base, parameters: {weight: 0.3}}, {model: a, parameters: {weight: 0.7}},"
                + " {model: b, parameters: {weight: 0.2}}]",
        "merge_method: nearswap\nbase_model: base\nmodels: [{model: a}]\nparameters: {t: 0.02}",
        "merge_method: ram\nbase_model: base\nmodels: [{model: a}, {model: b}]\nparameters: {epsilon: 0.01}",
        "merge_method: resta\nbase_model: base\nmodels: [{model: a}]\nparameters: {unaligned_model: u, scale: 0.7}",
        "merge_method: safe_lora\nbase_model: base\nmodels: [{model: a}]\nparameters: {unaligned_model: u}",
        "merge_method: spf_project\nbase_model: base\nmodels: [{model: a}]\nparameters: {safety_data: harmful.jsonl}",
    })
    void kernelGivesTheMergesFloats(String yaml) {
        TensorMerger merger = TensorMerger.create(Merges.config(yaml), 4);
        ElementwiseKernel kernel = merger.kernel(TENSOR);
        assertNotNull(kernel, "a kernel for " + yaml);
        Random random = new Random(yaml.hashCode());
        boolean two = yaml.contains("{model: b");
        for (int n : new int[] {63, 5000, 1, 2048}) {
            float[] base = values(random, n);
            float[] a = values(random, n);
            float[] b = values(random, n);
            Map<String, float[]> inputs = two ? Merges.inputs("base", base, "a", a, "b", b)
                    : Merges.inputs("base", base, "a", a);
            // An extra model input (RESTA's unaligned model) follows the models in a kernel's inputs.
            Map<String, float[]> extras = merger.extrasFor(TENSOR).isEmpty() ? Map.of()
                    : Map.of("unaligned_model", values(random, n));
            float[] expected = merger.merge(TENSOR, new long[] {n}, 0, inputs, extras, 0);
            float[] out = new float[n];
            kernel.merge(Stream.concat(merger.inputs(TENSOR).keySet().stream().map(inputs::get),
                    merger.extrasFor(TENSOR).stream().map(extras::get)).toArray(float[][]::new), n, out);
            assertArrayEquals(expected, out, n + " elements of " + yaml);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "merge_method: ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1.0, density: 0.5}}]",
        "merge_method: dare_ties\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1.0, density: 0.5}}]",
        "merge_method: dare_linear\nbase_model: base\nmodels: [{model: a, parameters: {weight: 1.0, density: 0.5}}]\n"
                + "parameters: {rescale_mode: inverse_density}",
        "merge_method: ramplus_tl\nbase_model: base\nmodels: [{model: a}, {model: b}]",
        "merge_method: resta\nbase_model: base\nmodels: [{model: a}]\nparameters: {unaligned_model: u, density: 0.5}",
    })
    void methodsThatTrimDrawOrCountHaveNone(String yaml) {
        assertNull(TensorMerger.create(Merges.config(yaml), 4).kernel(TENSOR), yaml);
    }

    /** Gaussian values with zeros of either sign, an infinity and a NaN, at the same positions in every input. */
    private static float[] values(Random random, int n) {
        float[] v = Merges.random(random, n, 0.05);
        for (int i = 0; i < n; i += 17) {
            v[i] = i % 34 == 0 ? 0f : -0f;
        }
        if (n > 100) {
            v[50] = Float.NaN;
            v[77] = Float.NEGATIVE_INFINITY;
        }
        return v;
    }
}
