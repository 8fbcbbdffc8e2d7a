package dev.mergeval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.runtime.TestModels;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The layering docs/architecture.md draws, read from the library's sources: no two packages depend on
 * each other, directly or through others, unless both belong to one top-level package's family (the
 * method registry and its methods, the runtime and its internals).
 */
class PackageLayersTest {

    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    private static final Pattern REFERENCE = Pattern.compile("\\b(dev\\.mergeval(?:\\.[a-z]\\w*)+)\\.[A-Z]");
    private static final Pattern COMMENT = Pattern.compile("/\\*.*?\\*/|//[^\\n]*", Pattern.DOTALL);

    @Test
    void noPackageCyclesBeyondAPackageAndItsOwnSubPackages() {
        Map<String, Set<String>> uses = graph(TestModels.projectRoot().resolve("pipeline/src/main/java"));
        assertTrue(uses.containsKey("dev.mergeval.runtime") && uses.containsKey("dev.mergeval.merge"),
                "the sources were read: " + uses.keySet());
        List<String> cycles = new ArrayList<>();
        for (String a : uses.keySet()) {
            for (String b : uses.keySet()) {
                if (a.compareTo(b) < 0 && !family(a).equals(family(b)) && reaches(uses, a, b) && reaches(uses, b, a)) {
                    cycles.add(a + " <-> " + b);
                }
            }
        }
        assertEquals(List.of(), cycles, "package cycles");
    }

    @Test
    void theRuntimeKnowsNothingOfMergesOrSources() {
        Map<String, Set<String>> uses = graph(TestModels.projectRoot().resolve("pipeline/src/main/java"));
        for (String p : List.of("dev.mergeval.merge", "dev.mergeval.merge.onload", "dev.mergeval.source")) {
            assertFalse(reaches(uses, "dev.mergeval.runtime", p), "runtime reaches " + p);
        }
    }

    /** {@code dev.mergeval.runtime} for {@code dev.mergeval.runtime.llama}: a package and its sub-packages. */
    private static String family(String pkg) {
        String[] parts = pkg.split("\\.");
        return parts.length > 2 ? parts[0] + "." + parts[1] + "." + parts[2] : pkg;
    }

    private static boolean reaches(Map<String, Set<String>> uses, String from, String target) {
        Deque<String> todo = new ArrayDeque<>(List.of(from));
        Set<String> seen = new TreeSet<>();
        while (!todo.isEmpty()) {
            String p = todo.pop();
            if (p.equals(target)) {
                return true;
            }
            if (seen.add(p)) {
                todo.addAll(uses.getOrDefault(p, Set.of()));
            }
        }
        return false;
    }

    private static Map<String, Set<String>> graph(Path root) {
        Map<String, Set<String>> uses = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String text = COMMENT.matcher(Files.readString(f)).replaceAll("");
                Matcher pkg = PACKAGE.matcher(text);
                if (!pkg.find()) {
                    continue;
                }
                Set<String> out = uses.computeIfAbsent(pkg.group(1), k -> new TreeSet<>());
                Matcher ref = REFERENCE.matcher(text);
                while (ref.find()) {
                    String target = ref.group(1);
                    if (!target.equals(pkg.group(1)) && Files.isDirectory(root.resolve(target.replace('.', '/')))) {
                        out.add(target);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return uses;
    }
}
