package dev.mergeval.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Full training of the parameters a predicate selects (the others stay frozen), updated in place.
 * SPF guards the trained 2-D weights; its projection is {@code W <- W - U U^T D V V^T} with
 * {@code D} the step just applied.
 */
public final class FullAdaptation implements Adaptation {

    private final Map<String, NDArray> params;
    private final Map<String, NDArray> trained = new TreeMap<>();
    private final List<String> matrices = new ArrayList<>();

    /**
     * @param params every parameter, float32, owned by one manager
     * @param trains which parameters train, by Hugging Face name
     */
    public FullAdaptation(Map<String, NDArray> params, Predicate<String> trains) {
        this.params = params;
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            if (trains.test(e.getKey())) {
                trained.put(e.getKey(), e.getValue());
            }
        }
        trained.forEach((name, p) -> {
            if (p.getShape().dimension() == 2) {
                matrices.add(name);
            }
        });
    }

    @Override
    public Map<String, NDArray> optimized() {
        return Collections.unmodifiableMap(trained);
    }

    @Override
    public Map<String, NDArray> forwardParams(NDManager scope) {
        return params;
    }

    @Override
    public List<String> matrices() {
        return Collections.unmodifiableList(matrices);
    }

    @Override
    public Map<String, NDArray> snapshot(NDManager scope) {
        Map<String, NDArray> copies = new TreeMap<>();
        for (String m : matrices) {
            copies.put(m, Owned.by(scope, trained.get(m).duplicate()));
        }
        return copies;
    }

    @Override
    public NDArray matrixUpdate(String matrix, Map<String, NDArray> before, NDManager scope) {
        return Owned.by(scope, trained.get(matrix).sub(before.get(matrix)));
    }

    @Override
    public void project(String matrix, Map<String, NDArray> before, NDArray u, NDArray v, NDManager scope) {
        NDArray d = matrixUpdate(matrix, before, scope);
        NDArray inner = Owned.by(scope, u.transpose()).matMul(d.matMul(v));
        NDArray component = Owned.by(scope, u.matMul(inner)).matMul(Owned.by(scope, v.transpose()));
        trained.get(matrix).subi(component);
    }

    @Override
    public NDArray matrixGradient(String matrix, NDManager scope) {
        return Owned.by(scope, trained.get(matrix).getGradient());
    }
}
