package dev.mergeval.provenance;

import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * What ran the models of an evaluation or a judge.
 *
 * @param name           {@value #DJL}: Mergeval's own runtime on DJL
 * @param version        the engine's version (DJL's)
 * @param backend        the engine's tensor library ({@code pytorch})
 * @param backendVersion its version
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
public record Engine(String name, String version, String backend, String backendVersion) {

    public static final String DJL = "djl";

    /** The DJL runtime on PyTorch, at the versions {@code environment} records. */
    public static Engine djl(Environment environment) {
        return new Engine(DJL, environment.djlVersion(), "pytorch", environment.pytorchVersion());
    }
}
