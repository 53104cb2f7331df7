package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher as a newcomer meets it: {@code ./tandem} run as a process, each common mistake
 * answered by one line on stderr that says what is wrong and what to do, a non-zero exit, and
 * nothing loading after it; and the quiet and logged output the README promises.
 *
 * <p>An integration test (failsafe, after {@code package}): it needs {@code ops/target/tandem-ops.jar}.
 */
class LauncherIT {
  private static final ObjectMapper JSON = new ObjectMapper();

  static Path repo() {
    Path p = Path.of("").toAbsolutePath();
    return Files.isRegularFile(p.resolve("tandem")) ? p : p.getParent();
  }

  record Run(int exit, List<String> out, List<String> err) {
    String errText() {
      return String.join("\n", err);
    }
  }

  /** Runs {@code ./tandem args...} to the end and returns its exit status and output lines. */
  static Run tandem(String... args) throws Exception {
    return tandemWith("-Xmx1g", args);
  }

  /** {@link #tandem} with these JVM options in {@code TANDEM_JAVA_OPTS}. */
  static Run tandemWith(String javaOpts, String... args) throws Exception {
    Launched p = Launched.startWith(javaOpts, args);
    if (!p.process.waitFor(180, TimeUnit.SECONDS)) {
      p.process.destroyForcibly();
      throw new AssertionError("tandem " + String.join(" ", args) + " did not finish within 180 s: " + p.err);
    }
    p.drain();
    return new Run(p.process.exitValue(), List.copyOf(p.out), List.copyOf(p.err));
  }

  /** A running launcher whose stdout and stderr are read line by line as they come. */
  static final class Launched implements AutoCloseable {
    final Process process;
    final List<String> out = Collections.synchronizedList(new ArrayList<>());
    final List<String> err = Collections.synchronizedList(new ArrayList<>());
    private final Thread outReader;
    private final Thread errReader;

    private Launched(Process process) {
      this.process = process;
      outReader = reader(process.getInputStream(), out);
      errReader = reader(process.getErrorStream(), err);
    }

    static Launched start(String... args) throws IOException {
      return startWith("-Xmx1g", args);
    }

    static Launched startWith(String javaOpts, String... args) throws IOException {
      return startWith(java.util.Map.of(), javaOpts, args);
    }

    /** {@link #startWith(String, String...)} with these variables set in its environment. */
    static Launched startWith(java.util.Map<String, String> env, String javaOpts, String... args) throws IOException {
      List<String> cmd = new ArrayList<>(List.of(repo().resolve("tandem").toString()));
      cmd.addAll(List.of(args));
      ProcessBuilder pb = new ProcessBuilder(cmd).directory(repo().toFile());
      pb.environment().remove(ServeCommand.API_KEY_ENV);
      pb.environment().putAll(env);
      pb.environment().put("TANDEM_JAVA_OPTS", javaOpts);
      return new Launched(pb.start());
    }

    private static Thread reader(InputStream in, List<String> lines) {
      Thread t = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) lines.add(line);
        } catch (IOException e) {
          // the process ended
        }
      });
      t.setDaemon(true);
      t.start();
      return t;
    }

    void drain() throws InterruptedException {
      outReader.join(10_000);
      errReader.join(10_000);
    }

    @Override
    public void close() throws Exception {
      process.destroy();
      if (!process.waitFor(60, TimeUnit.SECONDS)) process.destroyForcibly();
    }
  }

  /** One line on stderr, starting with the command's name; nothing on stdout. */
  private static String oneErrorLine(Run r, String command) {
    assertEquals(1, r.err.size(), "exactly one line on stderr, got:\n" + r.errText());
    assertTrue(r.out.stream().allMatch(String::isBlank), "nothing on stdout: " + r.out);
    String line = r.err.get(0);
    assertTrue(line.startsWith(command + ": "), line);
    return line;
  }

  @Test
  void serveOnABusyPortSaysSoBeforeAnyModelLoads() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Run r = tandem("serve", "--port", String.valueOf(taken.getLocalPort()));
      assertEquals(1, r.exit);
      String line = oneErrorLine(r, "tandem serve");
      assertTrue(line.contains("127.0.0.1:" + taken.getLocalPort()) && line.contains("Address already in use")
          && line.contains("--port"), line);
    }
  }

  @Test
  void aMissingSmallModelFolderIsNamedOnceAndTheLargeModelDoesNotLoad() throws Exception {
    Run r = tandem("serve", "--small", "/no/such/model", "--port", "0");
    assertEquals(1, r.exit);
    String line = oneErrorLine(r, "tandem serve");
    assertTrue(line.contains("--small /no/such/model: no such folder") && line.contains("checkpoint folder"), line);
  }

  /** The demo pair is named in the log only once every role's settings are known to be usable. */
  @Test
  void aRoleSettingMistakeWithTheDemoPairIsOneLine() throws Exception {
    Run r = tandemWith("-Xmx1g -Dtandem.small.max-batch=5000", "generate", "--prompt", "Compute 1 + 2.");
    assertEquals(2, r.exit);
    assertTrue(oneErrorLine(r, "tandem generate").contains("tandem.small.max-batch"), r.errText());
  }

  @Test
  void aFolderThatIsNotACheckpointIsOneLineAndNothingLoads(@TempDir Path tmp) throws Exception {
    Run r = tandem("generate", "--large", tmp.toString(), "--prompt", "Compute 1 + 2.");
    assertEquals(1, r.exit);
    String line = oneErrorLine(r, "tandem generate");
    assertTrue(line.contains("--large " + tmp + ": not a checkpoint folder, it has no config.json, no tokenizer.json, "
        + "no model.safetensors"), line);
  }

  @Test
  void aYamlSyntaxErrorIsOneLineWithFileLineAndProblem(@TempDir Path tmp) throws Exception {
    Path yml = tmp.resolve("broken.yml");
    Files.writeString(yml, "max_target_tokens: 20\nchoose_large: [true\nbegin: false\n");
    Run r = tandem("generate", "--config", yml.toString(), "--prompt", "Compute 1 + 2.");
    assertEquals(1, r.exit);
    String line = oneErrorLine(r, "tandem generate");
    assertTrue(line.startsWith("tandem generate: --config " + yml + ": line 3, column ") && line.matches(".*: not valid YAML: .+"), line);
  }

  /**
   * Under the C locale (containers, cron) the launcher runs the JVM in C.UTF-8, so that arguments
   * keep their non-ASCII characters: Java 17 decoded them in the locale's ASCII, a path with
   * Cyrillic letters became "Malformed input or input contains unmappable characters: /no/??" and a
   * prompt's letters U+FFFD (tester44a). The argument's bytes come from bash, not from this JVM's encoding.
   */
  @Test
  void argumentsKeepTheirCharactersUnderTheCLocale() throws Exception {
    ProcessBuilder pb = new ProcessBuilder("bash", "-c",
        "LC_ALL=C LANG=C exec ./tandem generate --small \"$(printf '/no/\\xd0\\xbc\\xd0\\xbe')\" --prompt hi")
        .directory(repo().toFile()).redirectErrorStream(true);
    pb.environment().put("TANDEM_JAVA_OPTS", "-Xmx1g");
    Process p = pb.start();
    String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(180, TimeUnit.SECONDS));
    assertEquals(1, p.exitValue(), said);
    assertTrue(said.contains("tandem generate: --small /no/\u043c\u043e: no such folder;"), said);
  }

  /**
   * The launcher through a symbolic link (one put on PATH), and run by {@code sh}, finds its
   * repository: it looked for a POM beside the link, and dash stopped at {@code set -o pipefail}
   * (tester46b).
   */
  @Test
  void theLauncherRunsThroughASymbolicLinkAndUnderSh(@TempDir Path tmp) throws Exception {
    Path link = Files.createSymbolicLink(tmp.resolve("tandem"), repo().resolve("tandem"));
    for (List<String> cmd : List.of(List.of(link.toString(), "--version"), List.of("sh", repo().resolve("tandem").toString(),
        "--version"))) {
      ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true);
      pb.environment().put("TANDEM_JAVA_OPTS", "-Xmx1g");
      Process p = pb.start();
      String said = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(180, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue(), cmd + ": " + said);
      assertEquals("tandem 0.1.0", said.strip(), cmd.toString());
    }
  }

  /**
   * make-checkpoint stopped by SIGTERM (or Ctrl-C) while it writes leaves neither the folder it
   * created nor its copy of the tokenizer in /tmp (tester46c: a cut-short checkpoint that the next
   * run called one, and 11 MB in /tmp each time). Should it finish before the signal (a fast disk),
   * what it wrote is whole.
   */
  @Test
  void makeCheckpointStoppedMidWriteLeavesNothingBehind(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("ck");
    Path system = Path.of(System.getProperty("java.io.tmpdir"));
    java.util.function.Supplier<java.util.Set<Path>> tokenizers = () -> {
      try (var all = Files.list(system)) {
        return all.filter(p -> p.getFileName().toString().startsWith("tandem-qwen-tokenizer"))
            .collect(java.util.stream.Collectors.toSet());
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    var before = tokenizers.get();
    try (Launched p = Launched.start("make-checkpoint", "--shape", "qwen2.5-0.5b", "--out", out.toString())) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (!Files.exists(out.resolve("model.safetensors")) && p.process.isAlive() && System.nanoTime() < deadline)
        Thread.sleep(20);
      p.process.destroy(); // SIGTERM
      assertTrue(p.process.waitFor(60, TimeUnit.SECONDS));
      if (p.process.exitValue() == 0) {
        assertTrue(Files.exists(out.resolve("config.json")), "finished before the signal: a whole checkpoint");
      } else {
        assertFalse(Files.exists(out), "the folder it created is gone: " + p.err);
      }
    }
    var left = new java.util.HashSet<>(tokenizers.get());
    left.removeAll(before);
    assertEquals(java.util.Set.of(), left, "its tokenizer copy is gone from " + system);
  }

  @Test
  void aMissingDataFileSaysWhatIsExpected() throws Exception {
    Run r = tandem("eval", "--data", "/no/such/math500.jsonl");
    assertEquals(1, r.exit);
    String line = oneErrorLine(r, "tandem eval");
    assertTrue(line.contains("--data /no/such/math500.jsonl: no such file") && line.contains("JSONL")
        && line.contains("\"problem\""), line);
  }

  @Test
  void aValueOutOfItsRangeIsAUsageErrorAloneOnStderrBeforeAnythingLoads() throws Exception {
    Run tokens = tandem("generate", "--prompt", "hi", "--max-tokens", "0");
    assertEquals(2, tokens.exit);
    assertEquals("tandem generate: --max-tokens 0: give a whole number >= 1", oneErrorLine(tokens, "tandem generate"));
    Run role = tandem("serve", "--roles", "foo");
    assertEquals(2, role.exit);
    assertEquals("tandem serve: --roles foo: unknown role 'foo'; give one or more of orchestrator, small, large (comma-separated)",
        oneErrorLine(role, "tandem serve"));
  }

  @Test
  void aConfigValueThatCannotBeUsedIsNamedByItsFullKeyAloneBeforeAnythingLoads() throws Exception {
    assertSettingRefused("tandem.http.max-body-size=lots",
        "tandem serve: tandem.http.max-body-size must be a size in bytes, like 512MiB or 2GiB, got the string \"lots\"", "serve",
        "--port", "0");
    assertSettingRefused("tandem.session.worker-wait=abc",
        "tandem serve: tandem.session.worker-wait must be a duration, like 30s, 500ms or 2m, got the string \"abc\"", "serve", "--port", "0");
    assertSettingRefused("tandem.http.max-in-flight=-1",
        "tandem serve: tandem.http.max-in-flight must be from 0 to 2147483647 (0: no limit), got -1", "serve", "--port", "0");
    assertSettingRefused("tandem.engine.connect-timeout=0s",
        "tandem generate: tandem.engine.connect-timeout must be a positive duration, got 0s", "generate", "--prompt", "hi");
  }

  @Test
  void aMisspeltConfigKeyInAnySectionIsRefusedWithTheKeyItResembles() throws Exception {
    assertSettingRefused("tandem.http.prot=5",
        "tandem serve: system properties: unknown key 'tandem.http.prot' (did you mean tandem.http.port?)", "serve", "--port", "0");
    assertSettingRefused("tandem.larg.threads=2", "tandem generate: system properties: unknown key 'tandem.larg.threads'"
        + " (did you mean tandem.large.threads?)", "generate", "--prompt", "hi");
  }

  /** {@code -DKEY=VALUE} makes {@code command} exit 2 (a mistake in what it was given) with {@code expected} alone on stderr. */
  private static void assertSettingRefused(String setting, String expected, String... command) throws Exception {
    Run r = tandemWith("-Xmx1g -D" + setting, command);
    assertEquals(2, r.exit, r.errText());
    assertEquals(expected, oneErrorLine(r, "tandem " + command[0]));
  }

  @Test
  void benchHttpJsonIsTheOnlyThingOnStdoutWithItsOwnServer() throws Exception {
    Run r = tandem("bench", "http", "--scripted", repo().resolve("ops/src/test/resources/fixtures/scripted/example.case.json").toString(),
        "--concurrency", "4", "--requests", "6", "--max-tokens", "8", "--json");
    assertEquals(0, r.exit, r.errText());
    assertEquals(1, r.out.size(), "one JSON object, no request log lines: " + r.out);
    // Nor a server's start-up lines on stderr: the open-server warning spoke of a server the user never started (tester56d).
    assertTrue(!r.errText().contains("NO API KEYS") && !r.errText().contains("tandem serve:"), r.errText());
    assertEquals(6, JSON.readTree(r.out.get(0)).path("status_2xx").asInt(), r.out.get(0));
    long tokens = JSON.readTree(r.out.get(0)).path("completion_tokens").asLong();
    assertTrue(tokens > 0 && tokens <= 6 * 8, r.out.get(0));
    // Streamed, the same answers count the same tokens: from the stream's usage, not its chunks (tester49b: the role chunk
    // counted as a token, 2 a request at max_tokens 1).
    Run streamed = tandem("bench", "http", "--scripted", repo().resolve("ops/src/test/resources/fixtures/scripted/example.case.json")
        .toString(), "--concurrency", "4", "--requests", "6", "--max-tokens", "8", "--stream", "--json");
    assertEquals(0, streamed.exit, streamed.errText());
    assertEquals(tokens, JSON.readTree(streamed.out.get(0)).path("completion_tokens").asLong(), streamed.out.get(0));
  }

  @Test
  void benchHttpAtAUrlWhereNothingListensSaysSo() throws Exception {
    int port = io.tandem.ops.cluster.LoopbackCluster.freePort();
    Run r = tandem("bench", "http", "--url", "http://127.0.0.1:" + port, "--concurrency", "2", "--requests", "2");
    assertEquals(1, r.exit);
    assertEquals("tandem bench http: nothing answers at http://127.0.0.1:" + port + " (its port refused the connection);"
        + " start a server there (./tandem serve --port " + port + ") or give --url of a running one", oneErrorLine(r, "tandem bench http"));
    // serve binds 127.0.0.1 unless told otherwise: the way to start one at [::1] names its --host.
    Run v6 = tandem("bench", "http", "--url", "http://[::1]:" + port, "--requests", "1");
    assertEquals("tandem bench http: nothing answers at http://[::1]:" + port + " (its port refused the connection);"
        + " start a server there (./tandem serve --port " + port + " --host ::1) or give --url of a running one", oneErrorLine(v6, "tandem bench http"));
    // A port that takes connections and never answers: said within seconds, not after each request's timeout of minutes
    // (tester50d: over 90 s without a line).
    try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      long start = System.nanoTime();
      Run mute = tandem("bench", "http", "--url", "http://127.0.0.1:" + silent.getLocalPort(), "--requests", "2");
      assertEquals(1, mute.exit, mute.errText());
      assertEquals("tandem bench http: http://127.0.0.1:" + silent.getLocalPort() + " does not answer: GET /v1/models got no"
          + " answer within 10 s, though its port takes connections (a server stopped or stalled, or no HTTP server); check"
          + " what runs there, or give --url of a running Tandem", oneErrorLine(mute, "tandem bench http"));
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(60), "said within a minute");
    }
  }

  @Test
  void aWorkerWhoseSeedNodeIsDownSaysSoInOneTandemLineAndGivesUpAtAkkasJoinDeadline() throws Exception {
    int own = io.tandem.ops.cluster.LoopbackCluster.freePort(), seed = io.tandem.ops.cluster.LoopbackCluster.freePort();
    String script = repo().resolve("ops/cluster/demo/small.json").toString();
    try (Launched worker = Launched.startWith("-Xmx512m -Dtandem.cluster.join-warning-after=2s"
        + " -Dakka.cluster.shutdown-after-unsuccessful-join-seed-nodes=15s", "serve", "--roles", "small",
        "--cluster-port", String.valueOf(own), "--seed-nodes", "127.0.0.1:" + seed, "--small", "scripted:" + script)) {
      String expected = "WARN  i.t.ops.TandemNode - node akka://tandem@127.0.0.1:" + own + " has not joined the cluster"
          + " after 2 s: none of its seed nodes (akka://tandem@127.0.0.1:" + seed + ") has let it in yet; start the"
          + " orchestrator (the first seed node) if it is down, or give this node the --seed-nodes of a running cluster;"
          + " 127.0.0.1:" + seed + " refuses connections: no node runs there; it gives up after 15 s"
          + " (akka.cluster.shutdown-after-unsuccessful-join-seed-nodes)";
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
      while (true) {
        synchronized (worker.err) {
          if (worker.err.stream().anyMatch(l -> l.endsWith(expected))) break;
        }
        assertTrue(worker.process.isAlive(), "the worker exited: " + worker.err);
        assertTrue(System.nanoTime() < deadline, "no WARN saying the seed node does not answer: " + worker.err);
        Thread.sleep(200); // polling interval, not a wait for an event
      }
      // Past Akka's deadline the node shuts down, and the launcher says why, for a supervisor to restart it.
      assertTrue(worker.process.waitFor(60, TimeUnit.SECONDS), "still running past the join deadline: " + worker.err);
      worker.drain();
      assertEquals(1, worker.process.exitValue());
      String said = "tandem serve: node akka://tandem@127.0.0.1:" + own + " could not join the cluster through its seed nodes"
          + " [akka://tandem@127.0.0.1:" + seed + "] within 15 s (akka.cluster.shutdown-after-unsuccessful-join-seed-nodes):"
          + " start the orchestrator (the first seed node) if it is down, or give this node the --seed-nodes of a running"
          + " cluster; then start this node again; 127.0.0.1:" + seed + " refuses connections: no node runs there (a first"
          + " seed node founds the cluster as soon as every"
          + " other seed node answers, else after akka.cluster.seed-node-timeout, 20 s: a node that waited for one started"
          + " late may give up first)";
      assertTrue(worker.err.contains(said), "no line saying why it gave up: " + worker.err);
    }
  }

  /** A SIGTERM before the node serves is said, not an end after "loading ..." that reads as a crash (tester57b). */
  @Test
  void aSignalWhileStartingIsSaid() throws Exception {
    int own = io.tandem.ops.cluster.LoopbackCluster.freePort(), seed = io.tandem.ops.cluster.LoopbackCluster.freePort();
    String script = repo().resolve("ops/cluster/demo/small.json").toString();
    try (Launched worker = Launched.startWith("-Xmx512m -Dtandem.cluster.join-warning-after=1s", "serve", "--roles", "small",
        "--cluster-port", String.valueOf(own), "--seed-nodes", "127.0.0.1:" + seed, "--small", "scripted:" + script)) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
      // Joining (its seed node does not run): past the model's load, before it serves.
      while (true) {
        synchronized (worker.err) {
          if (worker.err.stream().anyMatch(l -> l.contains("has not joined the cluster"))) break;
        }
        assertTrue(worker.process.isAlive() && System.nanoTime() < deadline, "no join warning: " + worker.err);
        Thread.sleep(200); // polling interval, not a wait for an event
      }
      worker.process.toHandle().destroy(); // SIGTERM
      assertTrue(worker.process.waitFor(60, TimeUnit.SECONDS), "still running: " + worker.err);
      worker.drain();
      assertEquals(143, worker.process.exitValue());
      assertTrue(worker.err.contains("tandem serve: SIGTERM while starting (loading its models or joining its cluster):"
          + " stopping before it served"), worker.err.toString());
    }
  }

  @Test
  void aJavaOptionWhoseValueHasASpaceIsOneOptionWhenQuoted() throws Exception {
    for (String quoted : List.of("\"-Dtandem.session.on-large-loss=fail fast\"", "-Dtandem.session.on-large-loss='fail fast'")) {
      Run r = tandemWith("-Xmx1g " + quoted, "serve", "--port", "0");
      assertEquals(2, r.exit, quoted + ": a setting that cannot be used is a mistake in what was given");
      assertEquals("tandem serve: tandem.session.on-large-loss must be fail or degrade, got 'fail fast'", oneErrorLine(r, "tandem serve"));
    }
    Run open = tandemWith("-Xmx1g \"-Dtandem.session.on-large-loss=fail fast", "serve", "--port", "0");
    assertEquals(1, open.exit);
    assertTrue(oneErrorLine(open, "tandem").contains("has a quote that is not closed; quote a value with a space as"), open.errText());
    // A word that is no option (a space after '=') was Java's main class, named by the JVM: a key, here (tester51j).
    Run stray = tandemWith("-Xmx1g -Dtandem.http.api-keys.0.key= sk-LEAKMARK-0123456789abcdef", "serve", "--port", "0");
    assertEquals(1, stray.exit);
    assertTrue(oneErrorLine(stray, "tandem").contains("holds a word that is no JVM option"), stray.errText());
    assertFalse(stray.errText().contains("LEAKMARK"), stray.errText());
    // A tandem option given here the JVM named, value and all, as unrecognized (tester52b); its own options pass.
    Run tandemOption = tandemWith("-Xmx1g --api-key=sk-LEAKMARK-0123456789abcdef", "serve", "--port", "0");
    assertEquals(1, tandemOption.exit);
    assertTrue(oneErrorLine(tandemOption, "tandem").contains("holds an option the JVM does not take"), tandemOption.errText());
    assertFalse(tandemOption.errText().contains("LEAKMARK"), tandemOption.errText());
    assertEquals(0, tandemWith("-Xmx1g -XX:+UseSerialGC -ea -Dx=y --add-opens=java.base/java.lang=ALL-UNNAMED", "--version").exit);
  }

  @Test
  void aMistypedOptionGetsTheOneItResembles() throws Exception {
    Run r = tandem("serve", "--prot", "9000");
    assertEquals(2, r.exit);
    String line = oneErrorLine(r, "tandem serve");
    assertEquals("tandem serve: Unknown option: '--prot'; did you mean --port? (see tandem serve --help)", line);
  }

  @Test
  void generateWithoutModelsRunsTheDemoPairAndQuietPrintsOnlyTheAnswer() throws Exception {
    Run quiet = tandem("generate", "--prompt", "Compute 40 + 85 + 79 + 26 + 57 + 87.", "--temperature", "0", "--quiet");
    assertEquals(0, quiet.exit, quiet.errText());
    assertEquals(List.of(), quiet.err, "--quiet: nothing on stderr");
    assertTrue(String.join("\n", quiet.out).contains("\\boxed{"), "the demo pair's answer: " + quiet.out);

    Run told = tandem("generate", "--prompt", "Compute 40 + 85 + 79 + 26 + 57 + 87.", "--temperature", "0",
        "--max-tokens", "8");
    assertEquals(0, told.exit, told.errText());
    assertTrue(told.err.stream().anyMatch(l -> l.contains("no --small given: the demo small model")), told.errText());
    assertFalse(told.errText().contains("Failed to detect GPU count"), "no CUDA probe warnings on a CPU: " + told.errText());
  }

  /** Waits until the server at {@code base} is ready, {@code deadline} a {@link System#nanoTime}. */
  private static void awaitReady(Launched server, HttpClient client, String base, long deadline) throws Exception {
    while (true) {
      assertTrue(server.process.isAlive(), "the server exited: " + server.err);
      try {
        if (client.send(HttpRequest.newBuilder(URI.create(base + "/health/ready")).build(),
            HttpResponse.BodyHandlers.discarding()).statusCode() == 200) return;
      } catch (IOException notYet) {
        // not listening yet
      }
      assertTrue(System.nanoTime() < deadline, "not ready: " + server.err);
      Thread.sleep(200); // polling interval, not a wait for an event
    }
  }

  /**
   * vLLM's {@code --api-key} (or, without it, {@code TANDEM_API_KEY}, as vLLM reads {@code
   * VLLM_API_KEY}) and {@code --served-model-name}, as a vLLM user starts a server: a request without
   * a listed key is a 401, one with any of them is served under the name it asked for, and {@code
   * /v1/models} lists the first name first.
   */
  @Test
  void vllmsApiKeyAndServedModelNameFlagsWorkAsInVllm() throws Exception {
    String small = "scripted:" + repo().resolve("ops/cluster/demo/small.json");
    String large = "scripted:" + repo().resolve("ops/cluster/demo/large.json");
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    record Case(java.util.Map<String, String> env, List<String> flags, List<String> keys, String refused) {}
    List<Case> cases = List.of(
        new Case(java.util.Map.of(ServeCommand.API_KEY_ENV, "sk-from-env"),
            List.of("--api-key", "sk-one", "sk-two", "--served-model-name", "demo-pair", "alias"),
            List.of("sk-one", "sk-two"), "sk-from-env"),
        new Case(java.util.Map.of(ServeCommand.API_KEY_ENV, "sk-from-env"), List.of(), List.of("sk-from-env"), "sk-one"));
    for (Case c : cases) {
      int port = io.tandem.ops.cluster.LoopbackCluster.freePort();
      List<String> args = new ArrayList<>(List.of("serve", "--no-cluster", "--port", String.valueOf(port), "--small", small,
          "--large", large));
      args.addAll(c.flags());
      try (Launched server = Launched.startWith(c.env(), "-Xmx512m", args.toArray(String[]::new))) {
        String base = "http://127.0.0.1:" + port;
        awaitReady(server, client, base, System.nanoTime() + TimeUnit.SECONDS.toNanos(120));
        String model = c.flags().isEmpty() ? "tandem" : "demo-pair";
        for (String asked : c.flags().isEmpty() ? List.of("tandem") : List.of("demo-pair", "alias")) {
          String body = "{\"model\": \"" + asked + "\", \"prompt\": \"Compute.\", \"max_tokens\": 4}";
          for (String key : c.keys()) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(asked, JSON.readTree(r.body()).path("model").asText(), "as vLLM, the name asked for: " + r.body());
          }
          for (String key : new String[] {null, c.refused()}) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body));
            if (key != null) b.header("Authorization", "Bearer " + key);
            HttpResponse<String> r = client.send(b.build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(401, r.statusCode(), key + ": " + r.body());
          }
        }
        for (String asked : new String[] {null, "tandem"}) {
          if (asked != null && c.flags().isEmpty()) continue;
          String body = (asked == null ? "{" : "{\"model\": \"" + asked + "\", ") + "\"prompt\": \"Compute.\", \"max_tokens\": 4}";
          HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
              .header("Authorization", "Bearer " + c.keys().get(0)).header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
          if (asked == null) assertEquals(model, JSON.readTree(r.body()).path("model").asText(), "no model asked: " + r.body());
          else assertEquals(404, r.statusCode(), "the default name is not served when others are given: " + r.body());
        }
        HttpResponse<String> models = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/models"))
            .header("Authorization", "Bearer " + c.keys().get(0)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(model, JSON.readTree(models.body()).path("data").path(0).path("id").asText(), models.body());
        if (c.flags().isEmpty())
          assertTrue(server.err.stream().anyMatch(l -> l.contains("clients must send an API key: " + ServeCommand.API_KEY_ENV)),
              "the server says where its key came from: " + server.err);
        synchronized (server.err) {
          for (String key : List.of("sk-one", "sk-two", "sk-from-env"))
            assertTrue(server.err.stream().noneMatch(l -> l.contains(key)) && server.out.stream().noneMatch(l -> l.contains(key)),
                "no key is logged: " + server.err + "\n" + server.out);
        }
      }
    }
  }

  @Test
  void everyRequestLeavesOneJsonLineOnTheRequestLog() throws Exception {
    // Below the ephemeral range, as the cluster ITs pick theirs: no outgoing connection takes it first.
    int port = io.tandem.ops.cluster.LoopbackCluster.freePort();
    try (Launched server = Launched.start("serve", "--port", String.valueOf(port))) {
      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
      String base = "http://127.0.0.1:" + port;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      awaitReady(server, client, base, deadline);
      String body = "{\"model\": \"tandem\", \"messages\": [{\"role\": \"user\", \"content\": \"Compute 1 + 2 + 3 + 4 + 5 + 6.\"}],"
          + " \"max_tokens\": 16, \"temperature\": 0, \"user\": \"launcher-it\"}";
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());

      JsonNode logged = null;
      while (logged == null) {
        synchronized (server.out) {
          for (String line : server.out) {
            JsonNode j = JSON.readTree(line); // stdout carries nothing but request log lines
            if (j.path("path").asText().equals("/v1/chat/completions")) logged = j;
          }
        }
        assertTrue(System.nanoTime() < deadline, "no request log line on stdout: " + server.out + "\n" + server.err);
        if (logged == null) Thread.sleep(100); // polling interval
      }
      assertEquals(200, logged.path("status").asInt(), logged.toString());
    }
  }

  /**
   * SIGTERM (or Ctrl-C) during train-demo ends the current step, saves the model and exits as
   * signalled: exiting during a step in libtorch crashed the JVM (SIGSEGV, an hs_err file) in about
   * half of a tester's tries, its teardown racing the step.
   */
  @Test
  void trainDemoStoppedBySigtermSavesWhatItTrainedAndExitsWithoutCrashing(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path out = dir.resolve("demo");
    try (Launched training = Launched.startWith("-Xmx1g", "train-demo", "--out", out.toString(), "--only", "small",
        "--small-steps", "100000")) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (true) {
        synchronized (training.err) {
          if (training.err.stream().anyMatch(l -> l.startsWith("train-demo: small step 5,"))) break;
        }
        assertTrue(training.process.isAlive(), "train-demo exited: " + training.err);
        assertTrue(System.nanoTime() < deadline, "no fifth step within 120 s: " + training.err);
        Thread.sleep(200); // polling interval, not a wait for an event
      }
      training.process.toHandle().destroy(); // SIGTERM (Process.destroy would close the streams being read)
      assertTrue(training.process.waitFor(120, TimeUnit.SECONDS), "still running: " + training.err);
      training.drain();
      assertEquals(143, training.process.exitValue(), "exited as SIGTERM asks, not by a crash: " + training.out + training.err);
      assertTrue(training.out.stream().noneMatch(l -> l.contains("fatal error")), training.out.toString());
      assertTrue(training.err.stream().anyMatch(l -> l.startsWith("train-demo: small stopped as asked: ")), training.err.toString());
      assertTrue(Files.isRegularFile(out.resolve("small/model.safetensors")), "the model trained so far is saved");
      assertTrue(Files.isRegularFile(out.resolve("training-small.json")));
    }
  }

  /** Out of heap, the JVM exits at once with one line, not the stack traces of every thread that met it (Akka's fatal-error exit). */
  @Test
  void aHeapTooSmallIsOneLineAndStatus3NotStackTraces() throws Exception {
    Run r = tandemWith("-Xmx16m", "generate", "--prompt", "Compute 40 + 85 + 79 + 26 + 57 + 87.", "--temperature", "0");
    assertEquals(3, r.exit(), r.errText());
    assertTrue(r.err().stream().anyMatch(l -> l.startsWith("Terminating due to java.lang.OutOfMemoryError")), r.errText());
    assertTrue(r.err().stream().noneMatch(l -> l.startsWith("\tat ")), "no stack trace: " + r.errText());
    assertTrue(r.out().stream().allMatch(String::isBlank), "nothing on stdout: " + r.out());
  }
}
