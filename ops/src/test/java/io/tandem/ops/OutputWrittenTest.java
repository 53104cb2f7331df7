package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a command prints on stdout and could not write (a full disk) fails it, exit 1 with a line
 * saying so: Java's {@code PrintStream} swallows the error, and a script that sent the results to a
 * full disk read exit 0 (tester56d). Help is left out: a reader that stops early is no failure.
 */
class OutputWrittenTest {

  private static Process tandem(File stdout, Path stderr, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-cp", System.getProperty("java.class.path"), Tandem.class.getName()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectOutput(stdout).redirectError(stderr.toFile()).start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "ended");
    return p;
  }

  @Test
  void aCommandWhoseOutputCannotBeWrittenFailsSayingSo(@TempDir Path tmp) throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(new File("/dev/full").canWrite(), "a /dev/full to write to");
    String script = "scripted:" + LauncherIT.repo().resolve("ops/cluster/demo/small.json");
    String[] generate = {"generate", "--small", script, "--large", script, "--prompt", "Compute 1 + 2.", "--quiet"};
    Path err = tmp.resolve("err");
    Process full = tandem(new File("/dev/full"), err, generate);
    assertEquals(1, full.exitValue(), Files.readString(err));
    assertTrue(Files.readString(err).strip().endsWith("tandem generate: its output could not be written to stdout (a full"
        + " disk, or a reader that stopped reading), so what it printed may not be whole"), Files.readString(err));

    Path out = tmp.resolve("out");
    Process written = tandem(out.toFile(), err, generate);
    assertEquals(0, written.exitValue(), Files.readString(err));
    assertTrue(Files.size(out) > 0, "the answer");

    assertEquals(0, tandem(new File("/dev/full"), err, "generate", "--help").exitValue(), Files.readString(err));
    assertEquals(0, tandem(new File("/dev/full"), err, "help", "generate").exitValue(), Files.readString(err));
  }
}
