package dev.mergeval.jobs.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.mergeval.common.Mappers;
import dev.mergeval.jobs.cluster.ProjectLayout;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code mergeval serve} as a user runs it: a real subprocess on {@code --port 0}, its printed URL,
 * answers compared with {@code mergeval generate} and {@code mergeval score} on the same model, and
 * a clean stop on SIGTERM.
 */
class ServeCommandTest {

    private static final Pattern URL = Pattern.compile("listening on (http://\\S+) \\(model (\\S+)\\)");
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @Test
    void servesWhatGenerateAndScoreGiveAndStopsOnSigterm() throws Exception {
        Path model = ProjectLayout.root().resolve("models/toy/aligned");
        Path log = Files.createTempFile("mergeval-serve", ".log");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("--add-opens") || a.startsWith("-Dai.djl")) {
                command.add(a);
            }
        }
        command.addAll(List.of("-cp", ProjectLayout.testClasspath(), MergevalCli.class.getName(),
                "serve", "--model", model.toString(), "--port", "0", "--max-batch", "4"));
        Process p = new ProcessBuilder(command).redirectError(log.toFile()).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String first = out.readLine();
            assertTrue(first != null, "no output; stderr: " + Files.readString(log));
            Matcher m = URL.matcher(first);
            assertTrue(m.find(), first);
            String base = m.group(1);
            assertEquals("aligned", m.group(2));

            List<String> prompts = List.of("Tell me a story", "What is a cat?", "Say hello", "Name a color");
            List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
            for (String prompt : prompts) {
                answers.add(post(base + "/chat/completions", Map.of("model", "aligned", "temperature", 0,
                        "max_tokens", 30, "messages", List.of(Map.of("role", "user", "content", prompt)))));
            }
            for (int i = 0; i < prompts.size(); i++) {
                JsonNode chat = Mappers.JSON.readTree(answers.get(i).get(120, TimeUnit.SECONDS).body());
                JsonNode generated = Mappers.JSON.readTree(cli("generate", "--model", model.toString(), "--prompt",
                        prompts.get(i), "--chat", "--max-new-tokens", "30", "--json"));
                assertEquals(generated.get("text").asText(), chat.at("/choices/0/message/content").asText(),
                        prompts.get(i));
            }

            String context = "Once upon a time";
            String continuation = ", there was a little dog";
            JsonNode echo = Mappers.JSON.readTree(post(base + "/completions", Map.of("model", "aligned",
                    "prompt", context + continuation, "echo", true, "logprobs", 1, "max_tokens", 0))
                    .get(120, TimeUnit.SECONDS).body());
            JsonNode lp = echo.at("/choices/0/logprobs");
            double sum = 0;
            for (int i = 0; i < lp.get("tokens").size(); i++) {
                if (lp.get("text_offset").get(i).asInt() >= context.length()) {
                    sum += lp.get("token_logprobs").get(i).asDouble();
                }
            }
            JsonNode score = Mappers.JSON.readTree(cli("score", "--model", model.toString(), "--context", context,
                    "--continuation", continuation, "--json"));
            assertEquals(score.get("log_likelihood").asDouble(), sum, 1e-4);

            p.toHandle().destroy(); // SIGTERM, leaving the pipes open (Process.destroy closes them)
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "stopped on SIGTERM");
            assertEquals("mergeval serve: stopped", out.readLine());
        } finally {
            p.destroyForcibly();
        }
    }

    private static CompletableFuture<HttpResponse<String>> post(String url, Object body) throws Exception {
        return HTTP.sendAsync(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(Mappers.JSON.writeValueAsString(body))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Runs the CLI in this JVM and returns its stdout (exit code 0 asserted). */
    private static String cli(String... args) {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, MergevalCli.run(args), String.join(" ", args));
            return buf.toString(StandardCharsets.UTF_8);
        } finally {
            System.setOut(saved);
        }
    }
}
