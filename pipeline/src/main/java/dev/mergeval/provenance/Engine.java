package dev.mergeval.provenance;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

/**
 * What ran the models of an evaluation or a judge. The fields of a served engine are left out of
 * the in-JVM engine's record, which reads as it always has.
 *
 * @param name           {@value #DJL}: Mergeval's own runtime on DJL; {@value #OPENAI}: a server
 *                       speaking the OpenAI API
 * @param version        the engine's version (DJL's); null for a server
 * @param backend        the engine's tensor library ({@code pytorch}); null for a server
 * @param backendVersion its version
 * @param baseUrl        a server's API root
 * @param model          the served model name requests named
 * @param served         what the server's {@code GET /models} answered before the run
 * @param launch         the command that started the server, for a launched one
 */
@JsonNaming(PropertyNamingStrategies.SnakeCaseStrategy.class)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Engine(String name, String version, String backend, String backendVersion, String baseUrl,
                     String model, JsonNode served, String launch) {

    public static final String DJL = "djl";
    public static final String OPENAI = "openai";

    /** The DJL runtime on PyTorch, at the versions {@code environment} records. */
    public static Engine djl(Environment environment) {
        return new Engine(DJL, environment.djlVersion(), "pytorch", environment.pytorchVersion(), null, null, null,
                null);
    }

    /** A server behind the OpenAI API (never its key). */
    public static Engine openai(String baseUrl, String model, JsonNode served, String launch) {
        return new Engine(OPENAI, null, null, null, baseUrl, model, served, launch);
    }
}
