package dev.mergeval.jobs.merge;

import dev.mergeval.jobs.FailFast;
import dev.mergeval.merge.plan.MergePlan;
import dev.mergeval.merge.plan.UnitExecutor;
import dev.mergeval.merge.plan.UnitResult;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.SerializableConfiguration;

/**
 * Executor side of one unit: runs {@link UnitExecutor#execute} for the unit at an index of the
 * broadcast plan. Holds only broadcasts and a path, so the closure shipped per task is tiny.
 */
final class UnitTask implements Function<Integer, UnitResult> {

    private static final long serialVersionUID = 1L;

    private final Broadcast<MergePlan> plan;
    private final Broadcast<SerializableConfiguration> conf;
    private final String partsDir;

    UnitTask(Broadcast<MergePlan> plan, Broadcast<SerializableConfiguration> conf, String partsDir) {
        this.plan = plan;
        this.conf = conf;
        this.partsDir = partsDir;
    }

    @Override
    public UnitResult call(Integer index) {
        MergePlan p = plan.value();
        try {
            return UnitExecutor.execute(p, p.units().get(index), partsDir, conf.value().value());
        } catch (RuntimeException e) {
            throw FailFast.unwrapBadInput(e);
        }
    }
}
