package dev.mergeval.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.mergeval.common.Sha256;
import java.io.IOException;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {

    @TempDir
    java.nio.file.Path tmp;

    private static List<String> keys(JsonNode n) {
        List<String> k = new ArrayList<>();
        n.fieldNames().forEachRemaining(k::add);
        return k;
    }

    @Test
    void configGetsOutputDtypeWithKeyOrderKeptAndTokenizerFilesAreCopied() throws IOException {
        java.nio.file.Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("config.json"), "{\"zeta\": 1, \"torch_dtype\": \"float32\","
                + " \"architectures\": [\"LlamaForCausalLM\"], \"alpha\": {\"b\": 2, \"a\": null}}");
        Files.writeString(src.resolve("tokenizer.json"), "{\"tok\": true}");
        Files.write(src.resolve("tokenizer.model"), new byte[] {0, 1, 2, (byte) 255});
        Files.writeString(src.resolve("generation_config.json"), "{\"do_sample\": false}");
        Files.writeString(src.resolve("model.safetensors"), "weights are not auxiliary");
        java.nio.file.Path dst = tmp.resolve("dst");
        List<String> written = ModelFiles.copyAuxiliary(src.toString(), dst.toString(), DType.BF16,
                new Configuration());
        assertEquals(List.of("config.json", "tokenizer.json", "tokenizer.model",
                "generation_config.json"), written);
        JsonNode in = new ObjectMapper().readTree(src.resolve("config.json").toFile());
        JsonNode out = new ObjectMapper().readTree(dst.resolve("config.json").toFile());
        assertEquals("bfloat16", out.get("torch_dtype").asText());
        assertEquals(keys(in), keys(out), "key order kept");
        assertEquals(in.get("alpha"), out.get("alpha"));
        assertTrue(Files.readString(dst.resolve("config.json")).contains("\"zeta\": 1"),
                "transformers-style separators");
        assertArrayEquals(Files.readAllBytes(src.resolve("tokenizer.model")),
                Files.readAllBytes(dst.resolve("tokenizer.model")));
        assertFalse(Files.exists(dst.resolve("model.safetensors")));
        try (Stream<java.nio.file.Path> s = Files.list(dst)) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".crc")), "no .crc files");
        }
    }

    @Test
    void stories260KAuxiliaryFiles() throws IOException {
        java.nio.file.Path src = SharedFiles.stories260K();
        java.nio.file.Path dst = tmp.resolve("out");
        List<String> written = ModelFiles.copyAuxiliary(src.toString(), dst.toString(), DType.F16,
                new Configuration());
        assertTrue(written.containsAll(List.of("config.json", "tokenizer.json",
                "tokenizer_config.json", "special_tokens_map.json", "generation_config.json")), written.toString());
        assertEquals("float16", new ObjectMapper().readTree(dst.resolve("config.json").toFile())
                .get("torch_dtype").asText());
        assertArrayEquals(Files.readAllBytes(src.resolve("tokenizer.json")),
                Files.readAllBytes(dst.resolve("tokenizer.json")));
    }

    @Test
    void sha256MatchesTheJdk() throws Exception {
        java.nio.file.Path f = tmp.resolve("blob");
        byte[] data = new byte[3 << 20];
        new java.util.SplittableRandom(3).nextBytes(data);
        Files.write(f, data);
        String want = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        assertEquals(want, HadoopFs.sha256(f.toUri().toString(), new Configuration()));
        assertEquals(want, Sha256.of(data));
    }

    @Test
    void sha256OfStories260KMatchesThePublishedPrefix() {
        java.nio.file.Path model = SharedFiles.stories260K().resolve("model.safetensors");
        assertTrue(HadoopFs.sha256(model.toString(), new Configuration()).startsWith("9725e5ab480dc5be"),
                "shared/README.md gives the model's sha256 prefix");
    }
}
