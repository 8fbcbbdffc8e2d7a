package dev.mergeval.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.mergeval.common.BadInputException;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A launched server that never serves: it dies, and the error quotes its last output lines; or it
 * hangs past the start-up timeout, and its whole process tree is stopped.
 */
class ServerLauncherTest {

    private static EngineSpec launch(String command, double startupSeconds) {
        return new EngineSpec(EngineSpec.OPENAI, null, null, null, 1, 5, 0, command, startupSeconds).validate("engine");
    }

    @Test
    void aServerThatDiesIsReportedWithItsLastOutputLines() {
        String message = assertThrows(BadInputException.class, () -> ServerLauncher.start(
                launch("echo loading {model} on port {port}; echo 'CUDA out of memory' >&2; exit 3", 60),
                "/models/it's here")).getMessage();
        assertTrue(message.startsWith("engine.launch: 'echo loading '/models/it'\\''s here' on port "), message);
        assertTrue(message.contains("exited with code 3 before answering GET /v1/models"), message);
        assertTrue(message.contains("loading /models/it's here on port "), "{model} is passed shell-quoted: " + message);
        assertTrue(message.endsWith("CUDA out of memory"), message);
    }

    @Test
    void aServerThatNeverAnswersIsStoppedWithItsChildren() {
        long before = ProcessHandle.current().descendants().count();
        String message = assertThrows(BadInputException.class, () -> ServerLauncher.start(
                launch("echo {model} {port}; sleep 60 & sleep 61; wait", 1.5), "m")).getMessage();
        assertTrue(message.contains("did not answer GET /v1/models within 1.5 s (engine.startup_timeout)"), message);
        List<ProcessHandle> left = ProcessHandle.current().descendants().filter(ProcessHandle::isAlive).toList();
        assertFalse(left.size() > before, "the shell and both sleeps are stopped: " + left);
    }
}
