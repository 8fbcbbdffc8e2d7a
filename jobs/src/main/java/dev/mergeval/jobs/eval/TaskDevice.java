package dev.mergeval.jobs.eval;

import java.util.Map;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * The device for the current Spark task: {@code cuda:N} for the first GPU address Spark assigned
 * to the task (with {@code spark.task.resource.gpu.amount} configured), otherwise {@code cpu}.
 */
final class TaskDevice {

    private TaskDevice() {
    }

    public static String current() {
        TaskContext ctx = TaskContext.get();
        if (ctx == null) {
            return "cpu";
        }
        Map<String, ResourceInformation> resources = ctx.resourcesJMap();
        ResourceInformation gpu = resources.get("gpu");
        if (gpu == null || gpu.addresses().length == 0) {
            return "cpu";
        }
        return "cuda:" + gpu.addresses()[0];
    }
}
