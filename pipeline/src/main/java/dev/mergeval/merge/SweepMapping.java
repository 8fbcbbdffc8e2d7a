package dev.mergeval.merge;

import java.util.List;
import java.util.Objects;

/**
 * How a method takes part in a sweep, declared by the method ({@link MergeMethod#sweepMapping()}):
 * where the sweep ratio {@code l} (0 = the aligned model {@code A}, 1 = the fine-tune {@code F})
 * goes in its mergekit config, or, for a post-hoc method that takes no ratio, which knobs trade
 * safety for task skill instead. The sweep writes the config from it
 * ({@code dev.mergeval.sweep.RatioMapping}), so a new method is swept by declaring this alone.
 *
 * @param shape where the ratio goes
 * @param knobs a post-hoc method's knobs, in the order they are named; empty for a ratio
 */
public record SweepMapping(Shape shape, List<Knob> knobs) {

    /** Where the ratio goes. */
    public enum Shape {
        /** Models {@code A} with weight {@code 1-l} and {@code F} with weight {@code l}, no base. */
        WEIGHTED_PAIR("weight"),
        /** {@code base_model: A}, models {@code A} and {@code F}, {@code t = l}. */
        INTERPOLATION("t"),
        /**
         * {@code base_model: A}, model {@code F} with weight {@code l} and {@code normalize: false}, so
         * {@code y = A + l * sparsify(F - A)}: with a single fine-tune, normalising divides by the
         * weight and the ratio would cancel out.
         */
        TASK_VECTOR("weight"),
        /** {@code base_model: A}, model {@code F}: the method is applied to the whole fine-tune. */
        POST_HOC(null);

        private final String ratioParameter;

        Shape(String ratioParameter) {
            this.ratioParameter = ratioParameter;
        }

        /** The parameter the ratio sets, which a grid may not give; null when there is no ratio. */
        public String ratioParameter() {
            return ratioParameter;
        }
    }

    /**
     * A post-hoc method's trade-off knob, the ratio's counterpart: parameter {@code name}, which the
     * method reads only when parameter {@code mode} is {@code modeValue} (no condition when null).
     */
    public record Knob(String name, String mode, String modeValue) {
        public Knob {
            Objects.requireNonNull(name, "name");
        }

        /** A knob the method always reads. */
        public static Knob of(String name) {
            return new Knob(name, null, null);
        }

        /** A knob read only when {@code mode} is {@code modeValue}. */
        public static Knob when(String name, String mode, String modeValue) {
            return new Knob(name, mode, modeValue);
        }
    }

    public SweepMapping {
        Objects.requireNonNull(shape, "shape");
        knobs = List.copyOf(knobs);
        if (knobs.isEmpty() == (shape == Shape.POST_HOC)) {
            throw new IllegalArgumentException("a post-hoc mapping needs knobs and only it has them: " + shape + " " + knobs);
        }
    }

    /** {@link Shape#WEIGHTED_PAIR}. */
    public static SweepMapping weightedPair() {
        return new SweepMapping(Shape.WEIGHTED_PAIR, List.of());
    }

    /** {@link Shape#INTERPOLATION}. */
    public static SweepMapping interpolation() {
        return new SweepMapping(Shape.INTERPOLATION, List.of());
    }

    /** {@link Shape#TASK_VECTOR}. */
    public static SweepMapping taskVector() {
        return new SweepMapping(Shape.TASK_VECTOR, List.of());
    }

    /** {@link Shape#POST_HOC}, swept by listing values of its {@code knobs}. */
    public static SweepMapping postHoc(Knob... knobs) {
        return new SweepMapping(Shape.POST_HOC, List.of(knobs));
    }

    /** True for a method applied to the fine-tune as a whole, with no ratio. */
    public boolean postHoc() {
        return shape == Shape.POST_HOC;
    }
}
