package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mistakes a newcomer makes on the command line, each answered with one line that says what is
 * wrong and what to do, before any model loads (in-process; {@code LauncherIT} runs the launcher).
 */
// A refusal that does not come starts what was refused (a server that runs until stopped): the timeout fails it.
@org.junit.jupiter.api.Timeout(value = 120, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class CommandLineMistakesTest {

  record Result(int exit, String err) {}

  static Result run(String... args) {
    StringWriter err = new StringWriter();
    var cl = Tandem.commandLine();
    cl.setErr(new PrintWriter(err, true));
    try (LoggerLevels levels = LoggerLevels.kept()) {
      return new Result(cl.execute(args), err.toString().strip());
    }
  }

  /** {@code args} run with {@code -DKEY=VALUE} for each of {@code properties}, as TANDEM_JAVA_OPTS gives them. */
  static Result runWith(Map<String, String> properties, String... args) {
    properties.forEach(System::setProperty);
    com.typesafe.config.ConfigFactory.invalidateCaches();
    try {
      return run(args);
    } finally {
      properties.keySet().forEach(System::clearProperty);
      com.typesafe.config.ConfigFactory.invalidateCaches();
    }
  }

  /**
   * A setting that cannot be used (not of its type, out of its bounds, unknown) is a mistake in what
   * the command was given, as a mistake on the command line is: one line naming the full key, what it
   * takes and the value given, exit status 2, before anything loads.
   */
  @Test
  void aSettingThatCannotBeUsedIsOneLineNamingItsKeyAndExitStatus2() {
    Map<Map<String, String>, String> refusals = new java.util.LinkedHashMap<>();
    refusals.put(Map.of("tandem.session.worker-wait", "abc"),
        "tandem serve: tandem.session.worker-wait must be a duration, like 30s, 500ms or 2m, got the string \"abc\"");
    refusals.put(Map.of("tandem.small.max-batch", "lots"), "tandem serve: tandem.small.max-batch must be a number, got the string \"lots\"");
    refusals.put(Map.of("tandem.http.max-in-flight.0", "3"), "tandem serve: tandem.http.max-in-flight must be a number, got an object");
    refusals.put(Map.of("tandem.small.max-batch", "1000000000"), "tandem serve: tandem.small.max-batch must be at most 4096"
        + " (sequences in one forward pass; 16 times vLLM's default max_num_seqs), got 1000000000");
    refusals.put(Map.of("tandem.http.api-keys.1.key", "sk-only-one"), "tandem serve: tandem.http.api-keys[1]: 'tenant' is missing");
    // Typesafe Config would cut a fraction off (0.5: no limit at all) and read a bare duration as milliseconds.
    refusals.put(Map.of("tandem.http.max-in-flight", "0.5"), "tandem serve: tandem.http.max-in-flight must be a whole number, got 0.5");
    refusals.put(Map.of("tandem.small.max-batch", "0.5"), "tandem serve: tandem.small.max-batch must be a whole number, got 0.5");
    refusals.put(Map.of("tandem.http.shutdown-deadline", "30"),
        "tandem serve: tandem.http.shutdown-deadline must be a duration with its unit, like 30s or 30ms, got 30");
    refusals.put(Map.of("tandem.http.api-keys.01.key", "sk-aaa", "tandem.http.api-keys.01.tenant", "a",
        "tandem.http.api-keys.1.key", "sk-bbb", "tandem.http.api-keys.1.tenant", "b"), "tandem serve: tandem.http.api-keys.01: '01' is"
        + " not an entry number; number the entries 0, 1, 2, ... without leading zeros, as in -Dtandem.http.api-keys.0.key=sk-..."
        + " -Dtandem.http.api-keys.0.tenant=NAME");
    refusals.put(Map.of("tandem.routing.load-poll-interval", "-1s"),
        "tandem serve: tandem.routing.load-poll-interval must be a duration from 0s up (0s: never), got -1s");
    // A -D option gives a string, never a list: the message gives the options that do.
    refusals.put(Map.of("tandem.roles", "small,orchestrator"), "tandem serve: tandem.roles must be a list, like [a, b], got the string"
        + " \"small,orchestrator\"; a -D option gives a list one element at a time: -Dtandem.roles.0=small -Dtandem.roles.1=orchestrator");
    refusals.put(Map.of("tandem.small.devices", "cpu"), "tandem serve: tandem.small.devices must be a list, like [a, b], got the string"
        + " \"cpu\"; a -D option gives a list one element at a time: -Dtandem.small.devices.0=cpu");
    // An unknown role is named before anything decides on the roles (not as --port's mistake of a node without orchestrator).
    refusals.put(Map.of("tandem.roles.0", "orchestrator", "tandem.roles.1", "fooo", "tandem.roles.2", "small"),
        "tandem serve: tandem.roles: unknown role 'fooo'; give one or more of orchestrator, small, large");
    refusals.put(Map.of("tandem.roles.0", "fooo"), "tandem serve: tandem.roles: unknown role 'fooo'; give one or more of orchestrator,"
        + " small, large");
    // A role misspelt is named as --roles names it (tester58d).
    refusals.put(Map.of("tandem.roles.0", "Small"), "tandem serve: tandem.roles: unknown role 'Small' (did you mean small?); give one"
        + " or more of orchestrator, small, large");
    refusals.put(Map.of("tandem.roles.0", "all"), "tandem serve: tandem.roles: unknown role 'all' (did you mean orchestrator, small,"
        + " large?); give one or more of orchestrator, small, large");
    refusals.put(Map.of("tandem.http.prot", "5", "tandem.sesion.worker-wait", "1s"), "tandem serve: system properties: unknown key"
        + " 'tandem.http.prot' (did you mean tandem.http.port?); unknown key 'tandem.sesion.worker-wait' (did you mean"
        + " tandem.session.worker-wait?)");
    refusals.forEach((properties, line) -> {
      Result r = runWith(properties, "serve", "--port", "0");
      assertEquals(2, r.exit(), properties + ": " + r.err());
      assertEquals(line, r.err(), properties.toString());
    });
  }

  /**
   * The bench commands, which read their settings their own way, name a setting given wrong by its full key with exit
   * status 2 as the others do (tester56d: bench orchestration said "max-batch must be ...", bench model a wrong
   * tandem.onednn, each with exit 1).
   */
  @Test
  void theBenchCommandsNameASettingGivenWrongByItsFullKeyWithExitStatus2() {
    Result orchestration = runWith(Map.of("tandem.large.max-batch", "5000"), "bench", "orchestration", "--runs", "1");
    assertEquals(2, orchestration.exit(), orchestration.err());
    assertEquals("tandem bench orchestration: tandem.large.max-batch must be at most 4096 (sequences in one forward pass; 16"
        + " times vLLM's default max_num_seqs), got 5000", orchestration.err());
    Result model = runWith(Map.of("tandem.onednn", "maybe"), "bench", "model", "--model",
        LauncherIT.repo().resolve("ops/demo/small").toString(), "--runs", "1", "--batch", "1", "--new-tokens", "1");
    assertEquals(2, model.exit(), model.err());
    assertTrue(model.err().startsWith("tandem bench model: system properties: -Dtandem.onednn=maybe is neither true nor false"), model.err());
  }

  /**
   * bench model reads no setting: one given as a system property is refused, not measured without (tester56f: a
   * -Dtandem.large.precision=float16 gave float32's figures without a word).
   */
  @Test
  void benchModelRefusesASettingItWouldNotRead() {
    Result r = runWith(Map.of("tandem.large.precision", "float16"), "bench", "model", "--model",
        LauncherIT.repo().resolve("ops/demo/small").toString(), "--runs", "1", "--batch", "1", "--new-tokens", "1");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem bench model: -Dtandem.large.precision: bench model reads no setting, and measures the checkpoint"
        + " with its own flags (here --precision); drop it from TANDEM_JAVA_OPTS", r.err().strip());
    Result misspelt = runWith(Map.of("tandem.onedn", "false"), "bench", "model", "--model",
        LauncherIT.repo().resolve("ops/demo/small").toString(), "--runs", "1", "--batch", "1", "--new-tokens", "1");
    assertEquals(2, misspelt.exit(), misspelt.err());
    assertTrue(misspelt.err().contains("unknown key 'tandem.onedn' (did you mean tandem.onednn?)"), misspelt.err());
    Result devices = runWith(Map.of("tandem.small.devices", "cpu"), "bench", "model", "--model",
        LauncherIT.repo().resolve("ops/demo/small").toString(), "--runs", "1", "--batch", "1", "--new-tokens", "1");
    assertTrue(devices.err().contains("(here --device)"), devices.err());
    // make-checkpoint reads no setting either, and names a misspelt key as the others do (tester57d).
    Result checkpoint = runWith(Map.of("tandem.onedn", "false"), "make-checkpoint", "--shape", "tiny", "--out", "/nonexistent/ck");
    assertEquals(2, checkpoint.exit(), checkpoint.err());
    assertTrue(checkpoint.err().contains("unknown key 'tandem.onedn' (did you mean tandem.onednn?)"), checkpoint.err());
  }

  private static List<String> concat(List<String> a, List<String> b) {
    return java.util.stream.Stream.concat(a.stream(), b.stream()).toList();
  }

  /**
   * simulate forms its own cluster on loopback: a node setting that would run nodes alone is named
   * alone, with what to do about it, not beside placement flags simulate does not have.
   */
  @Test
  void simulateRefusesAClusterTurnedOffNamingOnlyTheSetting() {
    Result r = runWith(Map.of("tandem.cluster.enabled", "off"), "simulate", "--sessions", "1", "--concurrency", "1",
        "--orchestrators", "1", "--small-workers", "1", "--large-workers", "1", "--time-scale", "0.01");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem simulate: tandem.cluster.enabled = off: simulate runs its nodes (orchestrators, small and large"
        + " workers) as one cluster on loopback; leave the setting out, or set it on", r.err());
  }

  /** Both roles' KV cache budgets on the CPU are checked together, before the demo pair loads. */
  @Test
  void kvCacheBudgetsThatFitMemoryOnlyEachAreRefusedTogetherBeforeLoading() {
    long physical = ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getTotalMemorySize();
    String each = String.valueOf(physical / 2 + (1L << 30));
    Result r = runWith(Map.of("tandem.small.kv-cache-bytes", each, "tandem.large.kv-cache-bytes", each), "generate", "--prompt", "x",
        "--quiet");
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().startsWith("tandem generate: tandem.small.kv-cache-bytes (") && r.err().contains(") and"
        + " tandem.large.kv-cache-bytes (") && r.err().contains(", more than this machine's physical memory, ")
        && !r.err().contains("\n"), r.err());
  }

  /** akka-http takes infinite for its request timeout, and so does the server: the setting passes to the next check. */
  @Test
  void anInfiniteRequestTimeoutIsTaken() {
    Result r = runWith(Map.of("tandem.http.request-timeout", "infinite"), "serve", "--port", "0", "--small", "/no/model");
    assertTrue(r.err().startsWith("tandem serve: --small /no/model: no such folder"), r.err());
  }

  /** {@code tandem --help serve}, as {@code git --help commit}: the command's help, not the top level's. */
  @Test
  void helpBeforeACommandIsThatCommandsHelp() {
    for (List<String> args : List.of(List.of("--help", "serve"), List.of("-h", "bench", "http"), List.of("serve", "--help"),
        List.of("bench", "--help", "http"))) {
      StringWriter out = new StringWriter();
      var cl = Tandem.commandLine();
      cl.setOut(new PrintWriter(out, true));
      String command = args.stream().filter(a -> !a.startsWith("-")).collect(java.util.stream.Collectors.joining(" "));
      assertEquals(0, cl.execute(args.toArray(String[]::new)), args.toString());
      assertTrue(out.toString().startsWith("Usage: tandem " + command + " ["), args + ": " + out);
    }
  }

  /** A mistake beside --help is the mistake, not a help text that hides it (exit status 0). */
  @Test
  void aMistypedCommandOrOptionBesideHelpIsStillNamed() {
    Result r = run("--help", "srve");
    assertEquals(2, r.exit());
    assertEquals("tandem: Unknown command: 'srve'; did you mean serve? (see tandem --help)", r.err());
    assertEquals("tandem serve: Unknown option: '--bogus' (see tandem serve --help)", run("serve", "--help", "--bogus").err());
    assertEquals("tandem serve: '--port' came after '--', after which nothing is read as an option: remove the '--' (see tandem"
        + " serve --help)", run("serve", "--", "--port", "1").err());
  }

  /** What a vLLM user types: where each of vLLM's options has its meaning here, and a port without its flag. */
  @Test
  void vllmsOptionsPointToTheirSettings() {
    assertEquals("tandem serve: Unknown option: '--dtype'; that is vLLM's option: each model's is the setting"
        + " tandem.small.precision or tandem.large.precision (float32 or float16) (settings are given as"
        + " TANDEM_JAVA_OPTS=\"-DKEY=VALUE\" ./tandem serve ...; see tandem serve --help)",
        run("serve", "--dtype", "float16").err());
    assertTrue(run("serve", "--model", "x").err().startsWith("tandem serve: Unknown option: '--model'; that is vLLM's option: the"
        + " models are given with --small and --large"));
    assertTrue(run("serve", "--mode=small").err().contains("the default mode is the setting tandem.http.default-mode"));
    // A required option misspelt is the misspelling, not the option missing (tester56d).
    assertEquals("tandem bench model: Unknown option: '--modle'; did you mean --model? (see tandem bench model --help)",
        run("bench", "model", "--modle", "ops/demo/small").err());
    assertTrue(run("make-checkpoint", "--shpe", "tiny", "--out", "x").err().startsWith("tandem make-checkpoint: Unknown option:"
        + " '--shpe'; did you mean --shape?"), run("make-checkpoint", "--shpe", "tiny", "--out", "x").err());
    assertTrue(run("make-checkpoint", "-shape", "tiny", "--out", "x").err().startsWith("tandem make-checkpoint: Unknown option:"
        + " '-shape'; did you mean --shape?"), run("make-checkpoint", "-shape", "tiny", "--out", "x").err());
    // Not beside eval, whose --modes it is, nor bench serve, which runs speculative sessions only (tester56d).
    assertEquals("tandem eval: Unknown option: '--mode'; did you mean --modes? (see tandem eval --help)",
        run("eval", "--mode", "small").err());
    assertFalse(run("bench", "serve", "--mode", "small").err().contains("default-mode"));
    assertTrue(run("serve", "--enable-prefix-caching").err().contains("prefix caching is on"));
    assertEquals("tandem serve: Unexpected argument: '8000'; did you mean --port 8000? (see tandem serve --help)",
        run("serve", "8000").err());
    // picocli's names of Java's types are numbers, as a user thinks of them.
    assertEquals("tandem serve: Invalid value for option '--port': 'x' is not a whole number (see tandem serve --help)",
        run("serve", "--port", "x").err());
    assertEquals("tandem generate: Invalid value for option '--temperature': 'hot' is not a number (see tandem generate --help)",
        run("generate", "--temperature", "hot").err());
    assertEquals("tandem bench http: --url localhost:8080: no scheme (http://); give --url http://localhost:8080, the http:// URL"
        + " of a Tandem server on this machine", run("bench", "http", "--url", "localhost:8080").err());
    // More of vLLM's (tester50d: only "Unknown option", or a near spelling that is no answer: --tokenizer, --top-k).
    assertTrue(run("serve", "-tp", "2").err().startsWith("tandem serve: Unknown option: '-tp'; that is vLLM's option"
        + " (--tensor-parallel-size): each model runs on one device (--device)"));
    assertTrue(run("serve", "--speculative-model", "x").err().contains("that is vLLM's speculative decoding"));
    assertTrue(run("serve", "--tokenizer", "/tmp").err().contains("each model's tokenizer is its folder's tokenizer.json"));
    assertTrue(run("generate", "--log-level", "debug").err().contains("the log level is the environment variable TANDEM_LOG"));
    assertTrue(run("serve", "--revision", "main").err().contains("Tandem downloads nothing"));
    // vllm serve MODEL with a Hub id: the flags, and that nothing is downloaded.
    Result hub = run("serve", "Qwen/Qwen2.5-0.5B-Instruct");
    assertEquals(2, hub.exit(), hub.err());
    assertEquals("tandem serve: Unexpected argument: 'Qwen/Qwen2.5-0.5B-Instruct'; models are given with --small and --large"
        + " (tandem serve --small DIR --large DIR), each a checkpoint folder: Tandem downloads nothing (for a Hugging Face Hub"
        + " id, download it first, e.g. huggingface-cli download Qwen/Qwen2.5-0.5B-Instruct --local-dir DIR) (see tandem serve"
        + " --help)", hub.err());
    // A vLLM server's URL as a model: the engine spec that reaches it.
    Result url = run("generate", "--large", "http://127.0.0.1:9/v1", "--prompt", "x");
    assertEquals(1, url.exit(), url.err());
    assertEquals("tandem generate: --large http://127.0.0.1:9/v1: a server's URL; a model served by vLLM, SGLang or another"
        + " Tandem is given as openai:URL?model=NAME, URL its API root (--large 'openai:http://127.0.0.1:9/v1?model=NAME',"
        + " NAME one its /v1/models lists; README, \"Running on GPUs\")", url.err());
    // An endpoint's URL, or one with a query, is cut back to its API root (tester50f: .../v1/chat/completions/v1?model=NAME).
    assertTrue(run("generate", "--large", "http://127.0.0.1:9/v1/chat/completions", "--prompt", "x").err()
        .contains("(--large 'openai:http://127.0.0.1:9/v1?model=NAME',"));
    assertTrue(run("generate", "--large", "http://127.0.0.1:9/v1?model=qwen", "--prompt", "x").err()
        .contains("(--large 'openai:http://127.0.0.1:9/v1?model=qwen',"));
    assertTrue(run("generate", "--large", "http://127.0.0.1:9/", "--prompt", "x").err()
        .contains("(--large 'openai:http://127.0.0.1:9/v1?model=NAME',"));
  }

  /**
   * An argument that begins with {@code @} is itself, not a file of arguments (picocli's @-files):
   * a {@code --prompt "@notes"} was the file's text, silently (tester50d).
   */
  @Test
  void anArgumentBeginningWithAnAtSignIsNotReadAsAFile(@TempDir Path tmp) throws Exception {
    Path file = tmp.resolve("args");
    Files.writeString(file, "--prompt\nfrom the file\n");
    picocli.CommandLine.ParseResult parsed = Tandem.commandLine().parseArgs("generate", "--prompt", "@" + file);
    assertEquals("@" + file, parsed.subcommand().matchedOptionValue("--prompt", null));
  }

  @Test
  void aMistypedCommandGetsTheNearestOne() {
    Result r = run("serv");
    assertEquals(2, r.exit());
    assertEquals("tandem: Unknown command: 'serv'; did you mean serve? (see tandem --help)", r.err());
    // With its options after it, as a newcomer types it, the command is still what is named (not --port).
    assertEquals("tandem: Unknown command: 'serv'; did you mean serve? (see tandem --help)", run("serv", "--port", "1").err());
    assertEquals("tandem bench: Unknown command: 'modle'; did you mean model? (see tandem bench --help)",
        run("bench", "modle", "--batch", "1").err());
  }

  /** The usual slips of a newcomer: an option written as a command, one before its command, a bare prompt. */
  @Test
  void optionsInTheWrongPlaceAndABarePromptAreNamedWithWhereTheyGo() {
    assertEquals("tandem: Unknown command: 'version'; did you mean --version? (see tandem --help)", run("version").err());
    Result before = run("--port", "18400", "serve");
    assertEquals(2, before.exit());
    assertEquals("tandem: Unknown option: '--port'; it is an option of tandem serve: give it after the command (tandem serve"
        + " --port ...) (see tandem --help)", before.err());
    assertEquals("tandem generate: Unexpected argument: 'Compute 1 + 2.'; give the prompt with --prompt (tandem generate"
        + " --prompt \"...\") (see tandem generate --help)", run("generate", "Compute 1 + 2.").err());
    // The command written after it, when it takes the option; the rest of a prompt not quoted as one argument.
    assertEquals("tandem: Unknown option: '--small'; it is an option of tandem serve: give it after the command (tandem serve"
        + " --small ...) (see tandem --help)", run("--small", "DIR", "serve").err());
    assertEquals("tandem: Unknown option: '--concurrency'; it is an option of tandem bench http: give it after the command"
        + " (tandem bench http --concurrency ...) (see tandem --help)", run("--concurrency", "4", "bench", "http").err());
    assertEquals("tandem generate: Unexpected argument: '40'; a prompt of several words is one argument: quote it (tandem"
        + " generate --prompt \"Compute 40 ...\") (see tandem generate --help)", run("generate", "--prompt", "Compute", "40").err());
    Path demo = LauncherIT.repo().resolve("ops/demo/small");
    assertEquals("tandem serve: Unexpected argument: '" + demo + "'; models are given with --small and --large (tandem serve"
        + " --small DIR --large DIR) (see tandem serve --help)", run("serve", demo.toString()).err());
  }

  /** What a vLLM user gives first: a Hub id (Tandem downloads nothing), or the folder that holds the demo pair. */
  @Test
  void aHubIdOrAFolderOfCheckpointsIsRefusedSayingWhatToGive() {
    Result hub = run("generate", "--small", "Qwen/Qwen2.5-0.5B", "--prompt", "hi");
    assertEquals(1, hub.exit());
    // Where it was looked for too: models/small, a folder of two parts, reads as a Hub id (tester53d).
    assertTrue(hub.err().startsWith("tandem generate: --small Qwen/Qwen2.5-0.5B: no such folder (a relative path is taken from"
        + " the folder the command runs in, " + Path.of("").toAbsolutePath() + ") (Tandem downloads nothing: if this is a"
        + " Hugging Face Hub id, download the checkpoint first, e.g. huggingface-cli download Qwen/Qwen2.5-0.5B --local-dir"
        + " DIR, and give DIR)"), hub.err());
    Path demo = LauncherIT.repo().resolve("ops/demo");
    Result pair = run("generate", "--small", demo.toString(), "--prompt", "hi");
    assertTrue(pair.err().endsWith("; the checkpoint folders in it are " + demo.resolve("large") + ", " + demo.resolve("small")),
        pair.err());
    // bench model too (tester51c: it said only that there was no config.json).
    Result bench = run("bench", "model", "--model", demo.toString());
    assertEquals(1, bench.exit());
    assertEquals("tandem bench model: --model " + demo + ": no config.json, not a Hugging Face checkpoint folder; the checkpoint"
        + " folders in it are " + demo.resolve("large") + ", " + demo.resolve("small"), bench.err().strip());
  }

  /**
   * A key given where a key does not go (--api-keys, which takes a file; a misspelt option; an argument; a setting's name;
   * a line of a config file) is not repeated in the refusal, which goes to logs (tester51f).
   */
  @Test
  void aKeyGivenInTheWrongPlaceOnTheCommandLineIsNotRepeated(@TempDir Path tmp) throws Exception {
    String key = "sk-LEAKMARK-0123456789abcdef";
    List<Result> results = new java.util.ArrayList<>();
    results.add(run("serve", "--port", "0", "--api-keys", key));
    results.add(run("serve", "--port", "0", "--apikey=" + key));
    results.add(run("serve", "--port", "0", key));
    results.add(runWith(Map.of("tandem.http." + key, "1"), "serve", "--port", "0"));
    Path conf = Files.writeString(tmp.resolve("keys.conf"), "include classpath(\"application.conf\")\n# rotate to:\n" + key + "\n");
    results.add(runWith(Map.of("config.file", conf.toString()), "serve", "--port", "0"));
    results.add(runWith(Map.of("tandem.session.worker-wait", key), "serve", "--port", "0"));
    results.add(run("serve", "--port", "0", "--large", "openai:http://127.0.0.1:9/v1?model=m&api-key=" + key));
    // A relative file: said as the folder it is read from, not as the path resolved (tester52b: the key was in it).
    results.add(runWith(Map.of("config.file", key), "serve", "--port", "0"));
    // A key swapped with its tenant in a keys file (tester52b: the key was shown on /metrics).
    Path swapped = Files.writeString(tmp.resolve("swapped.json"), "{\"api-keys\": [{\"key\": \"team-a\", \"tenant\": \"" + key
        + "\"}]}");
    results.add(run("serve", "--port", "0", "--api-keys", swapped.toString()));
    // A urlsafe key with dashes and underscores, and a base64 key that begins with a slash (tester52b).
    results.add(run("serve", "--port", "0", "3Kpe_sP_89pRMrfnOS4_ORYmPwBcJjSW-OLm9kExYioLEAKMARK"));
    results.add(run("serve", "--port", "0", "/rP1IdOQ0f+64LEAKMARK0j53eReR8xXlD/eJVQsYap80="));
    for (Result r : results) {
      assertTrue(r.exit() != 0 && !r.err().isEmpty(), r.toString());
      assertFalse(r.err().contains("LEAKMARK"), r.err());
    }
    assertEquals("tandem serve: --api-keys: no such file, and its value looks like an API key itself (not shown here, in case it"
        + " is a key); --api-keys names a keys file (a JSON file {\"api-keys\": [{\"key\", \"tenant\", \"max-concurrent\","
        + " \"tokens-per-minute\"}]}); a key alone is given with --api-key KEY", results.get(0).err());
    assertTrue(results.get(1).err().startsWith("tandem serve: Unknown option: '--apikey=(not shown here, in case it is a key)'"),
        results.get(1).err());
    // A base64 key holds a slash (tester51j: the part after it was repeated).
    Result base64 = run("serve", "--port", "0", "--api-kye=Zq9xR2/vT8kLmN4pQ7sW1yB3dF6hJ0aC");
    assertFalse(base64.err().contains("vT8kLmN4") || base64.err().contains("Zq9xR2"), base64.err());
    // Names, model names and numbers are not keys: said as given (tester51i: over-redaction hid them).
    assertTrue(run("serve", "--served-model-name2", "x").err().startsWith("tandem serve: Unknown option: '--served-model-name2'"));
    assertTrue(run("serve", "--port", "0", "DeepSeek-R1-Distill-Qwen-1.5B").err().startsWith(
        "tandem serve: Unexpected argument: 'DeepSeek-R1-Distill-Qwen-1.5B'"));
  }

  /** A file of the wrong kind, or two flags that exclude each other, are named with what goes where. */
  @Test
  void aHoconConfigAKeysListUnderAnotherNameAndBothBenchTargetsAreNamed(@TempDir Path tmp) throws Exception {
    Path hocon = Files.writeString(tmp.resolve("server.conf"), "tandem.http.port = 1\n");
    assertEquals("tandem generate: --config " + hocon + ": a speculative config must be a mapping of keys to values, got"
        + " \"tandem.http.port = 1\" (this reads as HOCON: --config takes the paper's YAML; give server settings with"
        + " -Dconfig.file=FILE in TANDEM_JAVA_OPTS)", run("generate", "--config", hocon.toString(), "--prompt", "hi").err());
    // Server settings in YAML, as vLLM's --config takes them, are pointed to the same place (tester46b).
    Path yaml = Files.writeString(tmp.resolve("server.yml"), "port: 8000\n");
    String toServer = run("serve", "--config", yaml.toString()).err();
    assertTrue(toServer.startsWith("tandem serve: --config " + yaml + ": unknown key 'port' (known keys: ") && toServer.endsWith(
        "; 'port' is a server setting, not the paper's: --config takes the speculative config alone; give server settings with"
        + " -Dconfig.file=FILE in TANDEM_JAVA_OPTS, or the command's flags"), toServer);
    Path keys = Files.writeString(tmp.resolve("keys.json"), "{\"api_keys\": [{\"key\": \"sk-1\", \"tenant\": \"a\"}]}");
    assertEquals("tandem serve: --api-keys " + keys + ": expected {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}; found"
        + " 'api_keys' instead (write it api-keys)", run("serve", "--api-keys", keys.toString(), "--port", "0").err());
    Result both = run("bench", "http", "--url", "http://127.0.0.1:1", "--scripted", "case.json");
    assertEquals(2, both.exit());
    assertEquals("tandem bench http: give --url URL or --scripted CASE.json, not both (--url measures a server that runs,"
        + " --scripted starts one of its own)", both.err());
  }

  @Test
  void aMistypedOptionOfASubcommandGetsItsNearestOption() {
    Result r = run("eval", "--limt", "5");
    assertEquals(2, r.exit());
    assertEquals("tandem eval: Unknown option: '--limt'; did you mean --limit? (see tandem eval --help)", r.err());
  }

  /**
   * A prompt longer than the model's context is the command line's mistake: one line naming its
   * tokens and the context (exit 2), as HTTP's 400 context_length_exceeded is the client's, without
   * the session's failure logged as a warning beside it.
   */
  @Test
  void aPromptPastTheContextIsOneLineSayingSo() {
    Result r = run("generate", "--quiet", "--prompt", "Compute 40 + 85. ".repeat(200));
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().matches("tandem generate: --prompt: the prompt has \\d+ tokens, and each model's context is 1024 tokens:"
        + " a prompt may have at most 1023, for room to generate; give a shorter prompt"), r.err());

    // As the HTTP API refuses max_tokens past the context (vLLM's rule); its default is capped to what fits.
    Result past = run("generate", "--quiet", "--mode", "small", "--max-tokens", "1010", "--prompt",
        "Compute 40 + 85 + 79 + 26 + 57 + 87.");
    assertEquals(2, past.exit(), past.err());
    assertEquals("tandem generate: --max-tokens 1010: the model's context is 1024 tokens, and the prompt has 21, so at most"
        + " 1003 can be generated; give --max-tokens 1003 or less (or leave it out: it defaults to what fits)", past.err());
    // Past the context whatever the prompt: said before any model loads, from the checkpoint's config.json (tester57f).
    Result beyond = run("generate", "--max-tokens", "5000", "--prompt", "Compute 40 + 85 + 79 + 26 + 57 + 87.");
    assertEquals(2, beyond.exit(), beyond.err());
    assertEquals("tandem generate: --max-tokens 5000: each model's context is 1024 tokens, the prompt included, so at"
        + " most 1023 can be generated, fewer by the prompt's tokens; give --max-tokens 1023 or less (or leave it out: it"
        + " defaults to what fits)", beyond.err());
  }

  @Test
  void aGpuThisMachineDoesNotHaveIsRefusedBeforeLoading() {
    Result r = run("generate", "--prompt", "Compute 1 + 2.", "--device", "gpu99");
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("tandem generate: --device gpu99: this machine has ")
        && r.err().contains("use --device cpu") && !r.err().contains("\n"), r.err());
  }

  /** What {@code bench http --concurrency 1 --requests N} printed and said against a server answering with {@code handler}. */
  private record BenchRun(Result result, String summary) {}

  private static BenchRun benchHttpAgainst(int requests, com.sun.net.httpserver.HttpHandler handler) throws Exception {
    com.sun.net.httpserver.HttpServer gateway = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
    gateway.createContext("/", handler);
    gateway.start();
    java.io.PrintStream stdout = System.out;
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    try {
      System.setOut(new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8));
      Result r = run("bench", "http", "--url", "http://127.0.0.1:" + gateway.getAddress().getPort(), "--concurrency", "1",
          "--requests", String.valueOf(requests));
      return new BenchRun(r, out.toString(java.nio.charset.StandardCharsets.UTF_8));
    } finally {
      System.setOut(stdout);
      gateway.stop(0);
    }
  }

  /** Answers that are neither 2xx, 429 nor 503 are counted as "other" with the statuses they were. */
  @Test
  void benchHttpNamesTheStatusesOfItsOtherAnswers() throws Exception {
    java.util.concurrent.atomic.AtomicInteger seen = new java.util.concurrent.atomic.AtomicInteger();
    BenchRun run = benchHttpAgainst(3, exchange -> {
      exchange.getRequestBody().readAllBytes();
      // bench http's first look (GET /v1/models: does anything answer?) is not one of the requests measured.
      if (exchange.getRequestMethod().equals("GET")) {
        exchange.sendResponseHeaders(200, -1);
      } else if (seen.getAndIncrement() == 0) {
        byte[] error = "{\"error\": {\"message\": \"no API key: send Authorization: Bearer KEY\"}}".getBytes();
        exchange.sendResponseHeaders(500, error.length);
        exchange.getResponseBody().write(error);
      } else {
        exchange.sendResponseHeaders(502, -1);
      }
      exchange.close();
    });
    assertEquals(1, run.result().exit(), run.result().err());
    // Why, from the first answer that was no result (tester44a: exit 1 and nothing on stderr).
    assertEquals("tandem bench http: the first answer that was no result: HTTP 500, \"no API key: send Authorization: Bearer"
        + " KEY\"\ntandem bench http: none of the 3 requests was served (a 2xx with a result)", run.result().err());
    assertTrue(run.summary().contains("other 3 (HTTP 500 x1, HTTP 502 x2),"), run.summary());
  }

  /**
   * A 2xx without a result (a proxy's page) is no answer served, and a run in which none was served
   * exits 1 saying so (tester53a: both exit 0, the page counted "ok").
   */
  @Test
  void benchHttpCountsA2xxWithoutAResultAsOtherAndNothingServedAsAFailure() throws Exception {
    for (boolean page : new boolean[] {true, false}) {
      BenchRun run = benchHttpAgainst(2, exchange -> {
        exchange.getRequestBody().readAllBytes();
        byte[] body = (page ? "<html>maintenance</html>" : "{\"error\": {\"message\": \"busy\"}}").getBytes();
        exchange.sendResponseHeaders(exchange.getRequestMethod().equals("GET") || page ? 200 : 503, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
      });
      Result r = run.result();
      assertEquals(1, r.exit(), r.err());
      assertTrue(r.err().contains("tandem bench http: none of the 2 requests was served (a 2xx with a result)"), r.err());
      assertTrue(run.summary().contains("latency of the 0 served p50 —, p99 —; 2xx 0, 429 0, "
          + (page ? "503 0, other 2 (HTTP 200 x2)" : "503 2, other 0")), run.summary());
      if (page)
        assertTrue(r.err().contains("the first answer that was no result: HTTP 200 without a result (a JSON object with choices"
            + " and a usage with completion_tokens from 0 to 2147483647), body <html>maintenance</html>"), r.err());
    }
  }

  /** A model flag of a role the run does not load is said to be unused, not dropped without a word (tester44a). */
  @Test
  void aModelFlagOfARoleTheRunDoesNotLoadIsSaidToBeUnused() {
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream stderr = System.err;
    Result r;
    try {
      System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
      r = run("generate", "--mode", "large", "--small", "/no/model", "--large",
          "scripted:" + LauncherIT.repo().resolve("ops/cluster/demo/large.json"), "--prompt", "hi", "--max-tokens", "3");
    } finally {
      System.setErr(stderr);
    }
    assertEquals(0, r.exit(), r.err());
    assertTrue(err.toString(java.nio.charset.StandardCharsets.UTF_8).contains(
        "tandem: --small /no/model is not used: this run loads no small model (only the large one)"), err.toString());
  }

  /** A flag of the server --scripted starts is refused beside --url, not dropped without a word (tester44a). */
  @Test
  void benchHttpRefusesTheScriptedServersLimitBesideUrl() {
    Result r = run("bench", "http", "--url", "http://127.0.0.1:1", "--tenant-max-concurrent", "4");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem bench http: --tenant-max-concurrent sets a limit of the server --scripted starts; a server at --url has"
        + " its own limits (its keys' max-concurrent): leave it out", r.err());
    // Nor is a key for a server that has none, or one of its own (tester56d: dropped without a word).
    Result key = run("bench", "http", "--scripted", "x.case.json", "--api-key", "sk-mine", "--tenant-max-concurrent", "2");
    assertEquals(2, key.exit(), key.err());
    assertEquals("tandem bench http: --api-key is the key of a server at --url; the server --scripted starts has none (or, with"
        + " --tenant-max-concurrent, one of its own that bench http sends): leave it out", key.err());
  }

  /** An option of one value given twice says so in words, not picocli's "(<apiKeys>) should be specified only once". */
  @Test
  void anOptionOfOneValueGivenTwiceSaysSo() {
    Result keys = run("serve", "--api-keys", "a.json", "--api-keys", "b.json");
    assertEquals(2, keys.exit(), keys.err());
    assertEquals("tandem serve: --api-keys is given twice; give it once (it takes one value: one keys file, which may list every"
        + " key) (see tandem serve --help)", keys.err());
    assertEquals("tandem generate: --prompt is given twice; give it once (it takes one value) (see tandem generate --help)",
        run("generate", "--prompt", "a", "--prompt", "b").err());
    // A list option given twice is said to be, as a scalar one is (tester46c: both were run, the values joined).
    Result modes = run("eval", "--modes", "small", "--modes", "large");
    assertEquals(2, modes.exit(), modes.err());
    assertTrue(modes.err().startsWith("tandem eval: --modes is given twice; give it once, its values separated by commas"
        + " (--modes small,large)"), modes.err());
    // A flag takes no value (tester46b read "it takes one value" of --quiet).
    assertEquals("tandem generate: --quiet is given twice; give it once (see tandem generate --help)",
        run("generate", "--prompt", "a", "--quiet", "--quiet").err());
    // A negatable switch by the forms written (tester56d: --no-stagger twice was named --stagger).
    assertEquals("tandem bench serve: --no-stagger is given twice; give it once (see tandem bench serve --help)",
        run("bench", "serve", "--no-stagger", "--no-stagger").err().strip());
    assertEquals("tandem bench serve: --stagger and --no-stagger are both given; give one of them (see tandem bench serve --help)",
        run("bench", "serve", "--stagger", "--no-stagger").err().strip());
  }

  /** Digits beyond the option's type are a number too large, not "not a whole number" (tester44a). */
  @Test
  void aWholeNumberBeyondItsTypeIsSaidToBeTooLarge() {
    // Not the Java type's range, which the option's own check narrows (tester44d: --port read "it takes 2147483647").
    assertEquals("tandem generate: Invalid value for option '--max-tokens': '99999999999' is too large a number for this option"
        + " (see tandem generate --help for the values it takes)", run("generate", "--max-tokens", "99999999999", "--prompt", "hi").err());
    assertEquals("tandem generate: Invalid value for option '--seed': '-99999999999999999999' is too small a number for this"
        + " option (see tandem generate --help for the values it takes)", run("generate", "--seed", "-99999999999999999999",
        "--prompt", "hi").err());
    // simulate --latency takes h100 or two files: a comma alone was "Index 0 out of bounds for length 0" (tester44d).
    for (String latency : new String[] {",", "h100,", ",h100", "a,b,c"})
      assertEquals("tandem simulate: --latency " + latency + ": give h100, or SMALL.json,LARGE.json (two files)",
          run("simulate", "--latency", latency, "--sessions", "5").err(), latency);
    // One file, or a name not bundled, was "no bundled latency profile profiles/FILE-small.json" (session 44's note).
    assertEquals("tandem simulate: --latency h200: no such profile; give h100 (the bundled one), or two files SMALL.json,LARGE.json"
        + " (one latency profile per role)", run("simulate", "--latency", "h200", "--sessions", "5").err());
    assertEquals("tandem generate: Invalid value for option '--max-tokens': 'abc' is not a whole number (see tandem generate"
        + " --help)", run("generate", "--max-tokens", "abc", "--prompt", "hi").err());
  }

  /**
   * A list option of commas alone is no list (tester44a: eval --modes , ran nothing and exited 0,
   * bench serve loaded both models first).
   */
  @Test
  void aListOfCommasAloneIsRefusedBeforeAnythingRuns() {
    Result modes = run("eval", "--modes", ",", "--limit", "2");
    assertEquals(2, modes.exit(), modes.err());
    assertEquals("tandem eval: --modes ',' lists nothing; give one or more values, separated by commas (see tandem eval --help)",
        modes.err());
    for (String[] args : new String[][] {{"bench", "serve", "--sessions", ",,"}, {"bench", "orchestration", "--sessions", ","},
        {"simulate", "--large-workers", ","}, {"bench", "model", "--model", "ops/demo/small", "--batch", ","}}) {
      Result r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
      assertTrue(r.err().contains(args[args.length - 2] + " '" + args[args.length - 1] + "' lists nothing;"), r.err());
    }
  }

  /**
   * A value listed twice is refused before anything runs (tester44d: bench orchestration
   * --sessions 2,2 ran the point twice, the first cold, as if two measurements of one sweep).
   */
  @Test
  void aListNamingAValueTwiceIsRefusedBeforeAnythingRuns() {
    for (String[] args : new String[][] {{"bench", "serve", "--sessions", "8,1,8"}, {"bench", "orchestration", "--sessions", "2,2"},
        {"simulate", "--large-workers", "1,1"}, {"bench", "model", "--model", "ops/demo/small", "--batch", "4,4"},
        {"bench", "serve", "--batching", "true,true"}, {"serve", "--roles", "small,small"}, {"serve", "--roles", "small, small"},
        {"serve", "--seed-nodes", "127.0.0.1:25520, 127.0.0.1:25520"}}) {
      Result r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
      // Spaces around a comma are no part of a value (tester58d).
      String value = args[args.length - 1].split(",")[args[args.length - 1].startsWith("8,1") ? 0 : 1].strip();
      assertTrue(r.err().contains(args[args.length - 2] + " '" + args[args.length - 1] + "' lists " + value + " twice; give each"
          + " value once"), r.err());
    }
    // Two empty entries are empty entries, not a value given twice (tester58f: "lists  twice").
    Result empties = run("serve", "--roles", "small,,,large");
    assertEquals(2, empties.exit(), empties.err());
    assertTrue(empties.err().startsWith("tandem serve: --roles 'small,,,large' lists an empty role;"), empties.err());
    Result emptySeeds = run("serve", "--seed-nodes", "127.0.0.1:25520,,,127.0.0.1:25521");
    assertEquals(2, emptySeeds.exit(), emptySeeds.err());
    assertTrue(emptySeeds.err().startsWith("tandem serve: --seed-nodes '127.0.0.1:25520,,,127.0.0.1:25521' lists an empty seed"
        + " node;"), emptySeeds.err());    // A comma at the end is refused as one at the start is (tester58h: 'small,' was taken, ',small' refused).
    for (String[] args : new String[][] {{"serve", "--roles", "small,"}, {"serve", "--seed-nodes", "127.0.0.1:25520, "},
        {"eval", "--modes", "small,large,"}, {"bench", "serve", "--sessions", "1,8,"}}) {
      Result r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
      assertTrue(r.err().startsWith("tandem " + String.join(" ", java.util.Arrays.copyOf(args, args.length - 2)) + ": "
          + args[args.length - 2] + " '" + args[args.length - 1] + "' ends with a comma; remove it, or give the value after it"),
          r.err());
    }
  }

  @Test
  void missingFilesAreNamedWithTheirFlagAndWhatIsExpected() {
    assertEquals("tandem generate: --case /no/case.json: no such file; give a scripted case {\"small\": [\"token\", ...], "
        + "\"large\": [...], \"config\": {...}} as in ops/src/test/resources/fixtures/scripted/", run("generate", "--case", "/no/case.json").err());
    assertEquals("tandem generate: --config /no/1b_32b.yml: no such file; give a speculative config in the paper's YAML "
        + "(e.g. its 1b_32b.yml), or leave --config out for tandem.speculative",
        run("generate", "--prompt", "x", "--config", "/no/1b_32b.yml").err());
    Result keys = run("serve", "--api-keys", "/no/keys.conf", "--port", "0");
    assertEquals(1, keys.exit());
    assertTrue(keys.err().startsWith("tandem serve: --api-keys /no/keys.conf: no such file; give a JSON file"),
        keys.err());
    // The same file named by tandem.http.api-keys-file: the same exit and words (it was exit 2, "does not exist").
    Result setting = runWith(Map.of("tandem.http.api-keys-file", "/no/keys.conf"), "serve", "--port", "0");
    assertEquals(1, setting.exit(), setting.err());
    assertTrue(setting.err().startsWith("tandem serve: tandem.http.api-keys-file /no/keys.conf: no such file; give a JSON file"),
        setting.err());
    assertTrue(setting.err().endsWith(" (set in system properties)"), "where it was set: " + setting.err());
    // A relative path says where it was read from (tester51b: under systemd the working directory is not obvious).
    Result relative = runWith(Map.of("tandem.http.api-keys-file", "no-keys.json"), "serve", "--port", "0");
    assertTrue(relative.err().startsWith("tandem serve: tandem.http.api-keys-file no-keys.json: no such file (a relative path is"
        + " taken from the folder the command runs in, " + Path.of("").toAbsolutePath() + "); give a JSON file"), relative.err());
    assertTrue(relative.err().endsWith(" (set in system properties)"), relative.err());
    // So do a model's folder and every other input file (tester52b: only "no such file").
    for (String[] args : new String[][] {{"generate", "--prompt", "x", "--small", "no-such-model"},
        {"generate", "--prompt", "x", "--config", "no-such.yml"}, {"generate", "--case", "no-such.json"},
        {"eval", "--data", "no-such.jsonl"}, {"train-demo", "--out", "x", "--init-from", "no-such-init"}})
      assertTrue(run(args).err().contains(" " + args[args.length - 1] + ": no such " + (args[args.length - 2].equals("--small")
          || args[args.length - 2].equals("--init-from") ? "folder" : "file") + " (a relative path is taken from the folder the"
          + " command runs in, " + Path.of("").toAbsolutePath() + "); give "), String.join(" ", args) + ": " + run(args).err());
    // A device or a pipe is read as a file (it said "no such file"): /dev/null holds no keys.
    Result device = run("serve", "--api-keys", "/dev/null", "--port", "0");
    assertEquals(1, device.exit(), "an empty file is no JSON text");
    assertTrue(device.err().startsWith("tandem serve: --api-keys /dev/null: the file is empty; a keys file is JSON, {\"api-keys\":"),
        device.err());
    Result noProblems = run("eval", "--data", "/dev/null");
    assertEquals(1, noProblems.exit());
    assertEquals("tandem eval: /dev/null holds no problems", noProblems.err());
    // A device without end is refused at the read cap in one line (it ran out of memory with a stack trace).
    Map<List<String>, String> endless = Map.of(List.of("eval", "--data", "/dev/zero"), "tandem eval: --data",
        List.of("generate", "--case", "/dev/zero"), "tandem generate: --case",
        List.of("serve", "--api-keys", "/dev/zero", "--port", "0"), "tandem serve: --api-keys",
        List.of("bench", "http", "--scripted", "/dev/zero"), "tandem bench http: --scripted",
        List.of("generate", "--prompt", "x", "--config", "/dev/zero"), "tandem generate: --config");
    endless.forEach((args, flag) -> {
      Result r = run(args.toArray(String[]::new));
      assertEquals(1, r.exit(), r.err());
      assertEquals(flag + " /dev/zero: more than 64 MiB, the most Tandem reads from an input file; give a smaller file", r.err());
    });
    Result ftp = run("bench", "http", "--url", "ftp://127.0.0.1:18999", "--requests", "1");
    assertEquals(2, ftp.exit());
    assertEquals("tandem bench http: --url ftp://127.0.0.1:18999: give the http:// URL of a Tandem server on this"
        + " machine, e.g. http://127.0.0.1:8080", ftp.err());
    // Only this machine, and no name is looked up: an unknown one read "Name or service not known".
    Result remote = run("bench", "http", "--url", "http://no-such-host.invalid:8080/", "--requests", "1");
    assertEquals(2, remote.exit());
    assertEquals("tandem bench http: --url http://no-such-host.invalid:8080: bench http only targets this machine; give a"
        + " loopback host, e.g. http://127.0.0.1:8080 (or localhost, [::1])", remote.err());
    for (String host : List.of("localhost", "127.0.0.1", "127.1.2.3", "[::1]")) assertTrue(BenchHttpCommand.isLoopback(host), host);
    for (String host : List.of("10.0.0.1", "300.1.1.1", "example.com", "[::2]")) assertFalse(BenchHttpCommand.isLoopback(host), host);
    assertEquals("http://127.0.0.1:8080", BenchHttpCommand.baseUrl("http://127.0.0.1:8080/"));
    assertEquals("http://127.0.0.1:8080", BenchHttpCommand.baseUrl("http://127.0.0.1:8080/v1/"));
    for (String bad : new String[] {"https://127.0.0.1:8080", "http://127.0.0.1:99999", "http://127.0.0.1:abc",
        "http://127.0.0.1:8080?x=1", "http://127.0.0.1:8080/v2"}) { // host:port alone: vllmsOptionsPointToTheirSettings
      Result r = run("bench", "http", "--url", bad, "--requests", "1");
      assertEquals(2, r.exit(), bad);
      assertTrue(r.err().startsWith("tandem bench http: --url " + bad + ": ") && r.err().endsWith("e.g. http://127.0.0.1:8080")
          && !r.err().contains("\n"), r.err());
    }
    // serve's sampling flags are the defaults of its requests: checked as generate checks them, before any model loads.
    Result hot = run("serve", "--temperature", "-1", "--port", "0");
    assertEquals(2, hot.exit());
    assertEquals("tandem serve: --temperature: must be a finite number >= 0, got -1", hot.err());
    assertEquals("tandem serve: --top-p: must be in (0, 1], got 5", run("serve", "--top-p", "5", "--port", "0").err());
    for (String[] command : new String[][] {{"serve", "--port", "0"}, {"generate", "--prompt", "x"}, {"eval"}, {"bench", "serve"}}) {
      String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(command), java.util.stream.Stream.of("--temperature", "5"))
          .toArray(String[]::new);
      Result r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args));
      assertEquals("tandem " + String.join(" ", command).replaceFirst(" --.*", "")
          + ": --temperature 5: at most 2 (OpenAI's range, what a request may ask for)", r.err());
    }
    assertEquals("tandem bench serve: --temperature: must be a finite number >= 0, got -1",
        run("bench", "serve", "--temperature", "-1").err());
    assertEquals("tandem eval: --top-p: must be in (0, 1], got 0", run("eval", "--top-p", "0").err());
  }

  /**
   * A flag the launcher does not know, after an option that takes a list ({@code --api-key}, {@code
   * --served-model-name}), is refused as unknown, as argparse (vLLM's parser) stops a list at the next
   * flag: picocli took it, and the words after it, as values, and a server started open to the key
   * "--max-model-len". A single value may still start with a dash ({@code --top-k -1} is off; a prompt
   * may be a list item).
   */
  @Test
  void anUnknownFlagAfterAListOptionIsRefusedNotTakenAsItsValue() {
    for (String[] args : new String[][] {{"--api-key", "sk-1", "--max-model-len", "4096"}, {"--api-key=sk-1", "--max-model-len"},
        {"--served-model-name", "mine", "--max-model-len", "4096"}}) {
      String[] all = java.util.stream.Stream.concat(java.util.stream.Stream.of("serve", "--port", "0"), java.util.Arrays.stream(args))
          .toArray(String[]::new);
      Result r = run(all);
      assertEquals(2, r.exit(), String.join(" ", args));
      assertTrue(r.err().startsWith("tandem serve: Unknown option: '--max-model-len'; that is vLLM's option"), String.join(" ", args)
          + ": " + r.err());
    }
    assertEquals("tandem serve: Missing required parameter for option '--api-key' (KEY) before '--max-model-len'; a value that"
        + " begins with - is given after =, as --api-key=VALUE (see tandem serve --help)",
        run("serve", "--port", "0", "--api-key", "--max-model-len").err());
    // After '=' a value is the option's whatever it begins with, as argparse takes it (tester52b: a key beginning with -).
    picocli.CommandLine.ParseResult parsed = Tandem.commandLine().parseArgs("serve", "--top-k", "-1", "--seed", "-5",
        "--api-key", "sk-1", "sk-2", "--api-key=sk-3", "--api-key=-L5jeLc6taLsHs");
    ServeCommand serve = (ServeCommand) parsed.subcommand().commandSpec().userObject();
    assertEquals(-1, serve.models.topK);
    assertEquals(-5L, serve.models.seed);
    assertEquals(java.util.List.of("sk-1", "sk-2", "sk-3", "-L5jeLc6taLsHs"), serve.apiKey);
    // A single value may still start with a dash: a prompt that is a list item.
    GenerateCommand generate = (GenerateCommand) Tandem.commandLine().parseArgs("generate", "--prompt", "- a list item")
        .subcommand().commandSpec().userObject();
    assertEquals("- a list item", generate.prompt);
  }

  /** An empty value (an unset shell variable, say) is a mistake said as one, never the demo model or the current folder. */
  @Test
  void anEmptyModelOrPathIsRefusedNamingTheOption() {
    for (String role : new String[] {"small", "large"}) {
      for (String[] command : new String[][] {{"serve", "--port", "0"}, {"generate", "--prompt", "x"}}) {
        String[] args = java.util.stream.Stream.concat(java.util.Arrays.stream(command), java.util.stream.Stream.of("--" + role + "="))
            .toArray(String[]::new);
        Result r = run(args);
        assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
        assertTrue(r.err().startsWith("tandem " + command[0] + ": --" + role + " is empty; give a checkpoint folder")
            && !r.err().contains("\n"), r.err());
      }
    }
    for (String[] args : new String[][] {{"generate", "--prompt", "x", "--config", ""}, {"serve", "--api-keys", ""},
        {"bench", "model", "--model", ""}, {"eval", "--data", ""}}) {
      Result r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
      assertTrue(r.err().contains(args[args.length - 2]) && r.err().contains("the path is empty; give a file or folder")
          && !r.err().contains("\n"), r.err());
    }
  }

  /** A mistake inside a speculative config names the file as given, as its other --config mistakes do. */
  @Test
  void aMistakeInTheSpeculativeConfigNamesItsPathAsGiven(@TempDir Path tmp) throws Exception {
    Path broken = Files.writeString(tmp.resolve("broken.yml"), "max_target_tokens: 20\nchoose_large: [true\n");
    Result syntax = run("generate", "--prompt", "x", "--config", broken.toString());
    assertEquals(1, syntax.exit(), "a YAML syntax error is no value of a key");
    assertTrue(syntax.err().startsWith("tandem generate: --config " + broken + ": line 3, column ")
        && syntax.err().contains(": not valid YAML: ") && !syntax.err().contains("\n"), syntax.err());
    Path negative = Files.writeString(tmp.resolve("negative.yml"), "max_target_tokens: -3\n");
    Result value = run("generate", "--prompt", "x", "--config", negative.toString());
    assertEquals(2, value.exit());
    assertEquals("tandem generate: --config " + negative + ": max_target_tokens must be >= 1, got -3", value.err());
  }

  /** The paper's own YAML names model keys Tandem sets elsewhere: warned of, but not under --quiet. */
  @Test
  void quietHidesTheConfigsWarningsToo(@TempDir Path tmp) throws Exception {
    Path yaml = Files.writeString(tmp.resolve("paper.yml"), "mode: vllm\nmax_target_tokens: 20\n");
    Path script = LauncherIT.repo().resolve("ops/cluster/demo/small.json");
    String[] args = {"generate", "--prompt", "x", "--config", yaml.toString(), "--small", "scripted:" + script,
        "--large", "scripted:" + script, "--max-tokens", "4"};
    assertTrue(stderrOf(args).contains("'mode' is not used here"), "warned without --quiet");
    String[] quiet = java.util.Arrays.copyOf(args, args.length + 1);
    quiet[args.length] = "--quiet";
    assertEquals("", stderrOf(quiet));
  }

  /** What the command writes on stderr, its own writer's and System.err's (the config's warnings go there). */
  private static String stderrOf(String... args) {
    java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
    java.io.PrintStream before = System.err;
    System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      Result r = run(args);
      assertEquals(0, r.exit(), r.err());
      return (r.err() + captured.toString(java.nio.charset.StandardCharsets.UTF_8)).strip();
    } finally {
      System.setErr(before);
    }
  }

  @Test
  void aJsonlLineThatIsNotJsonIsNamedByItsNumber(@TempDir Path tmp) throws Exception {
    Path data = tmp.resolve("math.jsonl");
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": \"2\"}\n{problem: 2+2}\n");
    Result r = run("eval", "--data", data.toString(), "--small", "scripted:/x", "--large", "scripted:/x");
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("tandem eval: " + data + " line 2: not JSON (column 2): a member name (from 'p') not in double"
        + " quotes") && !r.err().contains("\n"), r.err());
    // A member given twice is refused as in a request body, not the last one kept.
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": \"2\", \"answer\": \"3\"}\n");
    assertTrue(run("eval", "--data", data.toString(), "--small", "scripted:/x", "--large", "scripted:/x").err().startsWith(
        "tandem eval: " + data + " line 1: not JSON (column 35): the member \"answer\" appears twice"));
  }

  /** A problem or answer that is a list or an object was scored as an empty string; a number answer is its digits as written. */
  @Test
  void aProblemOrAnswerThatIsNotTextIsRefusedByItsLine(@TempDir Path tmp) throws Exception {
    Path data = tmp.resolve("math.jsonl");
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": 2}\n{\"problem\": {\"q\": \"2+2\"}, \"answer\": \"4\"}\n");
    Result r = run("eval", "--data", data.toString(), "--small", "scripted:/x", "--large", "scripted:/x");
    assertEquals(1, r.exit());
    assertEquals("tandem eval: " + data + " line 2: \"problem\" is {\"q\":\"2+2\"}; give the question as a non-empty string (MATH500 JSONL)", r.err());
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": [2]}\n");
    assertEquals(data + " line 1: \"answer\" is [2]; give it as a string or a number (MATH500 JSONL)",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.ops.eval.Problem.readJsonl(data)).getMessage());
    // An empty answer would score an empty \\boxed{} right; 1e400 would be read as "Infinity" (tester51c).
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": \" \"}\n");
    assertEquals(data + " line 1: \"answer\" is empty; give the problem's answer (MATH500 JSONL)",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.ops.eval.Problem.readJsonl(data)).getMessage());
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": 1e400}\n");
    assertEquals(data + " line 1: \"answer\" is a number out of a 64-bit float's range; write it as a string (MATH500 JSONL)",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.ops.eval.Problem.readJsonl(data)).getMessage());
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": \"2\", \"unique_id\": \"\"}\n");
    assertEquals(data + " line 1: \"unique_id\" is empty; give the problem an id, or leave the field out (MATH500 JSONL)",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.ops.eval.Problem.readJsonl(data)).getMessage());
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": 1.50, \"unique_id\": 7}\n");
    assertEquals(List.of(new io.tandem.ops.eval.Problem("7", "1+1", "1.50")), io.tandem.ops.eval.Problem.readJsonl(data));
    // A problem given twice would be run and scored twice; a JSON file's list on one line is no JSON Lines.
    Files.writeString(data, "{\"problem\": \"1+1\", \"answer\": 2, \"unique_id\": \"a\"}\n{\"problem\": \"1+1\", \"answer\": 2, \"unique_id\": \"a\"}\n");
    assertEquals(data + " line 2: unique_id a is line 1's too; give each problem once, under an id of its own",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.ops.eval.Problem.readJsonl(data)).getMessage());
    Files.writeString(data, "[{\"problem\": \"1+1\", \"answer\": 2}]\n");
    assertEquals(data + " line 1: an array (a whole JSON file's list on one line? write each of its objects on a line of its own),"
        + " not an object; JSON Lines hold one object {\"problem\": ..., \"answer\": ...} per line (MATH500 JSONL)",
        assertThrows(IllegalArgumentException.class, () -> io.tandem.ops.eval.Problem.readJsonl(data)).getMessage());
  }

  @Test
  void trainDemoFirstSaysWhatItTrainsAndForHowLong(@TempDir Path tmp) throws Exception {
    Result both = run("train-demo", "--out", tmp.resolve("both").toString(), "--small-steps", "1", "--large-steps", "1");
    assertEquals(0, both.exit(), both.err());
    assertEquals("tandem train-demo: training small for 1 step, then large for 1 step, into " + tmp.resolve("both")
        + " (--only small or --only large trains one)", both.err().lines().findFirst().orElseThrow());
    Result one = run("train-demo", "--out", tmp.resolve("one").toString(), "--only", "small", "--small-steps", "1");
    assertEquals(0, one.exit(), one.err());
    assertEquals("tandem train-demo: training small for 1 step, into " + tmp.resolve("one"), one.err().lines().findFirst().orElseThrow());
    // A model already there (the demo pair itself, given --out ops/demo) is not overwritten without --force (tester44a).
    byte[] weights = Files.readAllBytes(tmp.resolve("one/small/model.safetensors"));
    Result again = run("train-demo", "--out", tmp.resolve("one").toString(), "--only", "small", "--small-steps", "1");
    assertEquals(2, again.exit(), again.err());
    assertEquals("tandem train-demo: --out " + tmp.resolve("one") + " already holds a small model (" + tmp.resolve("one/small")
        + "); give another folder, or pass --force to overwrite it", again.err().strip());
    assertArrayEquals(weights, Files.readAllBytes(tmp.resolve("one/small/model.safetensors")), "untouched");
    assertEquals(0, run("train-demo", "--out", tmp.resolve("one").toString(), "--only", "small", "--small-steps", "1", "--force")
        .exit());
    // The demo pair itself: what --force would replace is said (tester55d replaced every command's default with it).
    Path demo = LauncherIT.repo().resolve("ops/demo");
    Result demoPair = run("train-demo", "--out", demo.toString(), "--only", "small", "--small-steps", "1");
    assertEquals(2, demoPair.exit(), demoPair.err());
    assertEquals("tandem train-demo: --out " + demo + " already holds a small model (" + demo.resolve("small") + ": the demo"
        + " pair that serve, generate and eval use by default); give another folder, or pass --force to overwrite it (git"
        + " checkout ops/demo brings the committed pair back)", demoPair.err().strip());
    // Nor its snapshots (tester54d: OUT/small-step10 overwritten without a word); with --force an earlier run's snapshots go,
    // said so, rather than read as the new run's.
    Path snapshot = tmp.resolve("one/small-step10");
    Files.createDirectories(snapshot);
    Files.copy(tmp.resolve("one/small/config.json"), snapshot.resolve("config.json"));
    Result snapshots = run("train-demo", "--out", tmp.resolve("one").toString(), "--only", "small", "--small-steps", "1");
    assertEquals(2, snapshots.exit(), snapshots.err());
    assertEquals("tandem train-demo: --out " + tmp.resolve("one") + " already holds 2 small models (" + tmp.resolve("one/small")
        + ", " + snapshot + "); give another folder, or pass --force to overwrite them", snapshots.err().strip());
    Result forced = run("train-demo", "--out", tmp.resolve("one").toString(), "--only", "small", "--small-steps", "1", "--force");
    assertEquals(0, forced.exit(), forced.err());
    assertTrue(forced.err().contains("tandem train-demo: removed an earlier run's snapshots (--force): " + snapshot), forced.err());
    assertFalse(Files.exists(snapshot));
  }

  @Test
  void aLargeModelGrownToALayerCountItsStartDoesNotDivideIsRefusedBeforeTraining(@TempDir Path tmp) throws Exception {
    Files.createDirectories(tmp.resolve("init/large"));
    Files.createDirectories(tmp.resolve("init/small"));
    Files.writeString(tmp.resolve("init/large/config.json"), "{\"num_hidden_layers\": 4}");
    Result r = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--large-layers", "6", "--small-steps", "1", "--large-steps", "1");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem train-demo: --large-layers 6: " + tmp.resolve("init/large") + " has 4 layers; give 4 to continue"
        + " training it, or a multiple of 4 to grow it by block expansion", r.err().strip());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written, the small model not trained");

    Result noLarge = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init/large").toString(),
        "--only", "large", "--large-steps", "1");
    assertEquals(1, noLarge.exit(), noLarge.err()); // a folder not there: 1, as a model folder's
    assertEquals("tandem train-demo: --init-from " + tmp.resolve("init/large") + ": it has no large/ folder, the large model to"
        + " continue (give the folder holding small/ and large/, as --out writes them)", noLarge.err().strip());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    Result missing = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", "/no/such/init");
    assertEquals(1, missing.exit(), missing.err());
    assertEquals("tandem train-demo: --init-from /no/such/init: no such folder; give the folder holding small/ and large/, as"
        + " --out writes them", missing.err().strip());
  }

  /**
   * An {@code --init-from} model of another shape is refused before anything is written or trained:
   * it failed as its weights were read, after the run's small model was trained and written (tester54d).
   */
  @Test
  void anInitFromModelOfAnotherShapeIsRefusedBeforeAnythingIsWritten(@TempDir Path tmp) throws Exception {
    Path demo = LauncherIT.repo().resolve("ops/demo");
    Files.createDirectories(tmp.resolve("init/small"));
    Files.createDirectories(tmp.resolve("init/large"));
    // The large model's config where the small model's should be; the large one as it is.
    Files.copy(demo.resolve("large/config.json"), tmp.resolve("init/small/config.json"));
    Files.copy(demo.resolve("large/config.json"), tmp.resolve("init/large/config.json"));
    Result r = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--small-steps", "1", "--large-steps", "1");
    assertEquals(1, r.exit(), r.err());
    String said = r.err().strip();
    assertTrue(said.startsWith("tandem train-demo: --init-from " + tmp.resolve("init") + ": its small model ("
        + tmp.resolve("init/small") + ") is not of the shape the small model is trained in here: ") && said.contains("hidden_size ")
        && said.endsWith("; give the folder of an earlier train-demo run, holding small/ and large/ as --out writes them"), said);
    assertFalse(said.contains("large model ("), "the large model's shape is the one trained: " + said);
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written");

    // The small model's config with no weights beside it: refused before anything is written (tester55d: --out had its
    // tokenizer and held-out problems, or the small model trained, when weights were missing).
    Files.copy(demo.resolve("small/config.json"), tmp.resolve("init/small/config.json"), StandardCopyOption.REPLACE_EXISTING);
    Files.copy(demo.resolve("large/model.safetensors"), tmp.resolve("init/large/model.safetensors"));
    Result noWeights = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--small-steps", "1", "--large-steps", "1");
    assertEquals(1, noWeights.exit(), noWeights.err());
    assertTrue(noWeights.err().strip().startsWith("tandem train-demo: --init-from " + tmp.resolve("init") + ": the weights of its"
        + " small model cannot be read: ") && noWeights.err().strip().lines().count() == 1, noWeights.err());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written");

    // A config that is no JSON is named with its fault, as a checkpoint's is, not in Jackson's words (tester55f).
    Files.writeString(tmp.resolve("init/large/config.json"), "{\"hidden_size\": 64,\n");
    Result broken = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--small-steps", "1", "--large-steps", "1");
    assertEquals(1, broken.exit(), broken.err());
    assertTrue(broken.err().strip().startsWith("tandem train-demo: --init-from " + tmp.resolve("init") + ": "
        + tmp.resolve("init/large/config.json") + ": not valid JSON (line ") && broken.err().strip().lines().count() == 1
        && !broken.err().contains("[Source"), broken.err());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
    // A figure that is no whole number is not read as one (tester55g: 64.7 trained as 64).
    com.fasterxml.jackson.databind.node.ObjectNode fractional = (com.fasterxml.jackson.databind.node.ObjectNode)
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(demo.resolve("small/config.json").toFile());
    fractional.put("hidden_size", fractional.get("hidden_size").asInt() + 0.7);
    Files.copy(demo.resolve("large/config.json"), tmp.resolve("init/large/config.json"), StandardCopyOption.REPLACE_EXISTING);
    Files.writeString(tmp.resolve("init/small/config.json"), fractional.toString());
    Result notWhole = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--small-steps", "1", "--large-steps", "1");
    assertEquals(1, notWhole.exit(), notWhole.err());
    assertTrue(notWhole.err().contains("hidden_size " + (fractional.get("hidden_size").asInt()) + ".7, not "), notWhole.err());
    Files.copy(demo.resolve("small/config.json"), tmp.resolve("init/small/config.json"), StandardCopyOption.REPLACE_EXISTING);
    // Nor is one that is empty, or no object, read as one missing every figure (tester55g).
    Files.writeString(tmp.resolve("init/large/config.json"), "");
    Result empty = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--small-steps", "1", "--large-steps", "1");
    assertEquals(1, empty.exit(), empty.err());
    assertTrue(empty.err().strip().startsWith("tandem train-demo: --init-from " + tmp.resolve("init") + ": "
        + tmp.resolve("init/large/config.json") + ": ") && !empty.err().contains("missing, not"), empty.err());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written");

    // A layer count in config.json is checked against the cap and the weights before a model of its size is built
    // (tester55h: 120 layers beside weights of 12 grew until the process was killed; 24 trained a model twice the size).
    com.fasterxml.jackson.databind.node.ObjectNode layered = (com.fasterxml.jackson.databind.node.ObjectNode)
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(demo.resolve("large/config.json").toFile());
    int held = layered.get("num_hidden_layers").asInt();
    Files.writeString(tmp.resolve("init/large/config.json"), layered.put("num_hidden_layers", 120).toString());
    Result tooMany = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--only", "large", "--large-steps", "1");
    assertEquals(1, tooMany.exit(), tooMany.err());
    assertTrue(tooMany.err().strip().endsWith("its large model's config.json says 120 layers (num_hidden_layers), more than the 64"
        + " a demo model may have; give the folder of an earlier train-demo run, holding small/ and large/ as --out writes them"),
        tooMany.err());
    // One that is no layer count is said to be none, not measured against a plan chosen without it ("not 4", beside 12).
    for (String none : new String[] {"0", "-1", "\"12\"", "null"}) {
      Files.writeString(tmp.resolve("init/large/config.json"), layered.toString().replace("\"num_hidden_layers\":" + 120,
          "\"num_hidden_layers\":" + none));
      Result noCount = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
          "--only", "large", "--large-steps", "1");
      assertEquals(1, noCount.exit(), noCount.err());
      assertTrue(noCount.err().contains("num_hidden_layers " + none + " is no layer count (a whole number from 1, the number of"
          + " layers its weights hold)") && !noCount.err().contains("divides"), noCount.err());
    }
    Files.writeString(tmp.resolve("init/large/config.json"), layered.put("num_hidden_layers", held * 2).toString());
    Result doubled = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--only", "large", "--large-steps", "1");
    assertEquals(1, doubled.exit(), doubled.err());
    assertTrue(doubled.err().contains("its large model's config.json says " + held * 2 + " layers (num_hidden_layers), its weights"
        + " hold " + held), doubled.err());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written");

    Files.delete(tmp.resolve("init/small/config.json"));
    Result none = run("train-demo", "--out", tmp.resolve("out").toString(), "--init-from", tmp.resolve("init").toString(),
        "--only", "small", "--small-steps", "1");
    assertEquals(1, none.exit(), none.err());
    assertEquals("tandem train-demo: --init-from " + tmp.resolve("init") + ": its small model has no config.json; give the folder"
        + " of an earlier train-demo run, holding small/ and large/ as --out writes them", none.err().strip());
    assertFalse(Files.exists(tmp.resolve("out")), "nothing written");
  }

  @Test
  void aLatencyProfileOfTheWrongShapeIsOneLineNamingTheFileTheKeyAndTheThreeKnownKeys(@TempDir Path tmp) throws Exception {
    String shape = "; a latency profile is {\"decode_ms_per_step\": MS, \"prefill_ms_per_token\": MS, \"batch_growth\": FRACTION}";
    Path script = LauncherIT.repo().resolve("ops/cluster/demo/small.json");
    Path f = tmp.resolve("bad.json");
    java.util.function.Supplier<Result> generate = () -> run("generate", "--prompt", "x", "--small",
        "simulated:" + script + "?latency=" + f, "--large", "scripted:" + script, "--quiet");
    Files.writeString(f, "{\"tokens\": 5}");
    assertEquals("tandem generate: latency profile " + f + ": unknown key 'tokens'" + shape, generate.get().err());
    Files.writeString(f, "{\"" + "t".repeat(100_000) + "\": 5}");
    assertEquals("tandem generate: latency profile " + f + ": unknown key '" + "t".repeat(64) + "...'" + shape, generate.get().err(), "clipped");
    Files.writeString(f, "{\"decode_ms_per_step\": 2, \"prefill_ms_per_token\": 0.1}");
    assertEquals("tandem generate: latency profile " + f + ": no 'batch_growth'" + shape, generate.get().err(), "a missing figure is not 0");
    Files.writeString(f, "{\"decode_ms_per_step\": \"fast\", \"prefill_ms_per_token\": 0.1, \"batch_growth\": 0}");
    assertEquals("tandem generate: latency profile " + f + ": 'decode_ms_per_step' is not a number" + shape, generate.get().err());
    Files.writeString(f, "{\"decode_ms_per_step\": -1, \"prefill_ms_per_token\": 0.1, \"batch_growth\": 0}");
    assertEquals("tandem generate: latency profile " + f + ": latency figures must be >= 0" + shape, generate.get().err());
    Files.writeString(f, "{\"decode_ms_per_step\": 0, \"prefill_ms_per_token\": 0, \"batch_growth\": 0, \"notes\": \"x\"}");
    assertEquals(0, generate.get().exit(), "a profile with its three figures and notes runs");
  }

  @Test
  void aCheckpointsFileGivenForItsFolderIsCalledAFileNamingTheFolder(@TempDir Path tmp) throws Exception {
    Path config = LauncherIT.repo().resolve("ops/demo/small/config.json");
    Result r = run("generate", "--prompt", "x", "--small", config.toString(), "--quiet");
    assertEquals(1, r.exit());
    assertEquals("tandem generate: --small " + config + ": is a file, not a checkpoint folder (the checkpoint folder that holds it is "
        + config.getParent() + "); give a Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer.json),"
        + " openai:URL?model=NAME for a model an engine serves (vLLM), scripted:PATH or simulated:PATH?latency=PROFILE, or"
        + " leave it out for the demo pair", r.err());
    Path loose = Files.writeString(tmp.resolve("weights.bin"), "x");
    assertTrue(run("generate", "--prompt", "x", "--large", loose.toString(), "--quiet").err()
        .startsWith("tandem generate: --large " + loose + ": is a file, not a checkpoint folder; give"), "no folder to name");
  }

  @Test
  void aFolderThatIsNotACheckpointIsRefusedBeforeLoadingNamingWhatIsMissing(@TempDir Path tmp) throws Exception {
    Files.writeString(tmp.resolve("config.json"), "{}");
    Result r = run("generate", "--prompt", "x", "--large", tmp.toString(), "--quiet");
    assertEquals(1, r.exit());
    assertEquals("tandem generate: --large " + tmp + ": not a checkpoint folder, it has no tokenizer.json, no "
        + "model.safetensors; a Hugging Face checkpoint folder holds config.json, tokenizer.json and model.safetensors "
        + "(or model.safetensors.index.json with its shards)", r.err());
  }

  /**
   * Both models' config and weights' headers are checked before either loads: a broken small model is
   * named first, in one line, whatever the large one is (a tester's was named only once the large had
   * loaded, after the worker's INFO and ERROR lines).
   */
  @Test
  void aBrokenCheckpointIsNamedBeforeAnyModelLoads(@TempDir Path tmp) throws Exception {
    Path small = tmp.resolve("small");
    Path large = tmp.resolve("large");
    for (Path d : List.of(small, large)) {
      Files.createDirectories(d);
      for (String f : List.of("config.json", "tokenizer.json", "model.safetensors"))
        Files.copy(LauncherIT.repo().resolve("ops/demo/small").resolve(f), d.resolve(f));
    }
    Files.writeString(small.resolve("config.json"), "{\"architectures\": [\"Qwen2ForCausalLM\"],\n");
    Files.writeString(large.resolve("model.safetensors"), "version https://git-lfs.github.com/spec/v1\n");
    Result r = run("generate", "--prompt", "x", "--small", small.toString(), "--large", large.toString());
    assertEquals(1, r.exit(), r.err());
    assertEquals("tandem generate: " + small.resolve("config.json") + ": not valid JSON (line 2, column 1): the file ends inside"
        + " the object that begins at line 1, column 1 (was it cut short?); a member is \"name\": value, and an object ends"
        + " with '}'", r.err());
    Files.copy(large.resolve("config.json"), small.resolve("config.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Result lfs = run("generate", "--prompt", "x", "--small", small.toString(), "--large", large.toString());
    assertEquals(1, lfs.exit(), lfs.err());
    assertTrue(lfs.err().startsWith("tandem generate: " + large.resolve("model.safetensors") + ": a Git LFS pointer"), lfs.err());
    // Another model's tokenizer, whose ids the model has no embedding for (tester48b: every request then failed with a
    // TorchScript traceback in its 500).
    Files.copy(small.resolve("model.safetensors"), large.resolve("model.safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    try (var qwen = getClass().getResourceAsStream("/io/tandem/ops/qwen-tokenizer/tokenizer.json")) {
      Files.copy(qwen, small.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
    Result foreign = run("generate", "--prompt", "x", "--small", small.toString(), "--large", large.toString());
    assertEquals(1, foreign.exit(), foreign.err());
    assertEquals("tandem generate: " + small.resolve("tokenizer.json") + ": its token ids go up to 151668, but config.json's"
        + " vocab_size is 114, so the model has no embedding for them: the tokenizer is another model's; copy tokenizer.json"
        + " (and tokenizer_config.json) from this model's own repository", foreign.err());
  }

  /** What a download gone wrong leaves is named with what to do (a tester met each as "it has no model.safetensors"). */
  @Test
  void aFolderADownloadLeftWrongSaysWhatItHolds(@TempDir Path tmp) throws Exception {
    Files.writeString(tmp.resolve("config.json"), "{}");
    Files.writeString(tmp.resolve("tokenizer.json"), "{}");
    Path part = Files.writeString(tmp.resolve("model.safetensors.incomplete"), "x");
    assertTrue(run("generate", "--prompt", "x", "--large", tmp.toString()).err().contains("it has no model.safetensors (a download"
        + " not finished (*.incomplete): let it finish, or run huggingface-cli download again); "), "unfinished");
    Files.delete(part);
    Path gguf = Files.writeString(tmp.resolve("model-q4.gguf"), "x");
    assertTrue(run("generate", "--prompt", "x", "--large", tmp.toString()).err().contains("(GGUF weights, llama.cpp's, which"
        + " Tandem does not read: give the model's safetensors checkpoint)"), "gguf");
    Files.delete(gguf);
    Files.writeString(tmp.resolve("pytorch_model.bin"), "x");
    assertTrue(run("generate", "--prompt", "x", "--large", tmp.toString()).err().contains("(PyTorch weights (.bin), which Tandem"
        + " does not read: "), ".bin");
    Path link = Files.createSymbolicLink(tmp.resolve("model.safetensors"), tmp.resolve("blobs-deleted"));
    assertTrue(run("generate", "--prompt", "x", "--large", tmp.toString()).err().contains("(model.safetensors is a symbolic link"
        + " to nothing (a Hugging Face cache whose file was deleted: download it again)"), "dangling link");
    Files.delete(link);
    Path cache = Files.createDirectories(tmp.resolve("models--org--name").resolve("snapshots").resolve("abc123"));
    assertTrue(run("generate", "--prompt", "x", "--large", tmp.resolve("models--org--name").toString()).err()
        .contains("(a Hugging Face cache folder: its checkpoints are its snapshots, " + cache + ")"), "a cache's repository folder");
    assertTrue(run("generate", "--prompt", "x", "--large", "~/no-such-model").err().contains(": no such folder (~ is expanded by"
        + " a shell only where it is not quoted, and never in a config file: give the full path, " + System.getProperty("user.home")
        + "/no-such-model)"), "a ~ no shell expanded");
  }

  @Test
  void anOutputThatCannotBeWrittenIsRefusedBeforeLoading(@TempDir Path tmp) throws Exception {
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    Result trace = run("generate", "--prompt", "x", "--trace", file.resolve("t.json").toString());
    assertEquals(1, trace.exit());
    assertEquals("tandem generate: --trace " + file.resolve("t.json") + ": cannot create folder "
        + file + " (it is a file, not a folder); give a place you can write to", trace.err());
    assertEquals("tandem generate: --trace " + tmp + ": is a folder; give a file name",
        run("generate", "--prompt", "x", "--trace", tmp.toString()).err());
    // A folder that exists but takes no files (/proc): said before the generation, not after it.
    assertEquals("tandem generate: --trace /proc/t.json: cannot write in folder /proc (the file system there does not"
        + " allow it); give a place you can write to", run("generate", "--prompt", "x", "--trace", "/proc/t.json").err());
    Result out = run("eval", "--out", file.resolve("results").toString(), "--limit", "1");
    assertEquals(1, out.exit());
    assertEquals("tandem eval: --out " + file.resolve("results") + ": cannot create folder "
        + file.resolve("results") + " (" + file + " is a file, not a folder); give a place you can write to", out.err());
    assertEquals("tandem eval: --out " + file + ": is a file, not a folder; give a folder (it is created if missing)",
        run("eval", "--out", file.toString()).err());
    // Linux's /proc takes no new folders; mkdir there says "no such file", which is not the reason.
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(Path.of("/proc/self")), "a Linux /proc");
    assertEquals("tandem eval: --out /proc/tandem-results: cannot create folder /proc/tandem-results (the file system "
        + "there does not allow it); give a place you can write to", run("eval", "--out", "/proc/tandem-results").err());
  }

  @Test
  void anEvalLimitBelowOneIsRefused() {
    Result r = run("eval", "--limit", "0");
    assertEquals(2, r.exit());
    assertEquals("tandem eval: --limit 0: give a whole number >= 1", r.err());
  }

  @Test
  void anEvalPromptTemplateWithoutTheProblemIsRefused() {
    for (String template : new String[] {"", "Solve it"}) {
      Result r = run("eval", "--prompt-template", template, "--limit", "1");
      assertEquals(2, r.exit(), template + ": " + r.err());
      assertTrue(r.err().startsWith("tandem eval: --prompt-template has no {problem}, so every problem would be sent as the same"
          + " message") && !r.err().contains("\n"), r.err());
    }
  }

  /**
   * A value picocli parsed but the command refuses (out of range, not among its choices) is a
   * usage error like one picocli refuses itself: exit status 2 and one line naming the option and
   * what it may be, in every command, before anything loads (no log line first).
   */
  @Test
  void everyRefusedValueIsAUsageErrorNamingTheOptionAndWhatItMayBe() {
    Map<List<String>, String> refusals = new java.util.LinkedHashMap<>();
    refusals.put(List.of("serve", "--roles", "foo"),
        "tandem serve: --roles foo: unknown role 'foo'; give one or more of orchestrator, small, large (comma-separated)");
    refusals.put(List.of("serve", "--roles", "orchestrator,smal"), "tandem serve: --roles orchestrator,smal: unknown role 'smal'"
        + " (did you mean small?); give one or more of orchestrator, small, large (comma-separated)");
    refusals.put(List.of("serve", "--seed-nodes", "localhost"),
        "tandem serve: --seed-nodes: seed node 'localhost' is not host:port (e.g. 127.0.0.1:25520)");
    refusals.put(List.of("serve", "--seed-nodes", "akka://other@127.0.0.1:18601"),
        "tandem serve: --seed-nodes: seed node 'akka://other@127.0.0.1:18601' names the actor system 'other', but this"
            + " cluster's is 'tandem' (tandem.cluster.system-name): write akka://tandem@127.0.0.1:18601, or just 127.0.0.1:18601");
    refusals.put(List.of("generate", "--prompt", "hi", "--max-tokens", "0"), "tandem generate: --max-tokens 0: give a whole number >= 1");
    refusals.put(List.of("generate", "--prompt", "hi", "--top-k", "-2"),
        "tandem generate: --top-k: must be 0 or -1 (off), or at least 1, got -2");
    refusals.put(List.of("generate", "--prompt", "hi", "--device", "tpu"),
        "tandem generate: --device tpu: not a device; give cpu, or gpu0, gpu1, ... for a GPU");
    refusals.put(List.of("serve", "--device", "openai:http://127.0.0.1:1/v1?model=m"), "tandem serve: --device"
        + " openai:http://127.0.0.1:1/v1?model=m: an engine spec is a model, not a device (the engine runs it on its own):"
        + " give it as --small or --large, e.g. --large 'openai:http://127.0.0.1:1/v1?model=m'; --device is cpu or gpuN");
    refusals.put(List.of("generate"), "tandem generate: no prompt: give --prompt \"...\" (or --case FILE)");

    refusals.put(List.of("generate", "--prompt", "", "--no-chat-template"), "tandem generate: --prompt is empty: with"
        + " --no-chat-template it is fed as it is, and the model needs at least one token to continue; give some text, or"
        + " leave --no-chat-template out");
    refusals.put(List.of("eval", "--concurrency", "0"), "tandem eval: --concurrency 0: give a whole number from 1 to 4096");
    refusals.put(List.of("eval", "--max-tokens", "-5"), "tandem eval: --max-tokens -5: give a whole number >= 1");
    refusals.put(List.of("bench", "serve", "--runs", "0"), "tandem bench serve: --runs 0: give at least 1 run per point");
    refusals.put(List.of("bench", "orchestration", "--sessions", "4,0"), "tandem bench orchestration: --sessions 0: give a whole number >= 1");
    refusals.put(List.of("bench", "http", "--url", "http://127.0.0.1:8080", "--concurrency", "0"),
        "tandem bench http: --concurrency 0: give a whole number from 1 to 4096");
    refusals.put(List.of("bench", "model", "--model", "/no/model", "--batch", "1,-2"), "tandem bench model: --batch -2: give a whole number from 1 to 4096");
    refusals.put(List.of("simulate", "--orchestrators", "0"), "tandem simulate: --orchestrators 0: give a whole number from 1 to"
        + " 32 (each is a node of the simulated cluster, an actor system in this one process)");
    // Each is a node in this process (tester53a: 100 large workers took 9 GB and minutes, without a word).
    refusals.put(List.of("simulate", "--large-workers", "1,100"), "tandem simulate: --large-workers 100: give a whole number"
        + " from 1 to 32 (each is a node of the simulated cluster, an actor system in this one process)");
    refusals.put(List.of("simulate", "--small-batch", "5000"), "tandem simulate: --small-batch 5000: give a whole number from 1"
        + " to 4096");
    refusals.put(List.of("simulate", "--small-workers", "5000"), "tandem simulate: --small-workers 5000: give a whole number from"
        + " 1 to 512 (the small workers are actors of one node in this one process)");
    // A subnormal scale made every figure Infinity or NaN (tester53f).
    refusals.put(List.of("simulate", "--time-scale", "1e-320"), "tandem simulate: --time-scale 1.0E-320: give a number from 1e-06"
        + " to 1e+06 (1: real time)");
    refusals.put(List.of("simulate", "--script-source", "generated:lots"),
        "tandem simulate: --script-source generated:lots: give generated:TOKENS (a whole number >= 1) or SMALL.json,LARGE.json");
    // A bare number is no duration (Typesafe Config would read milliseconds); the short run keeps a test without the check brief.
    List<String> oneSession = List.of("--sessions", "1", "--concurrency", "1", "--orchestrators", "1", "--small-workers", "1",
        "--large-workers", "1", "--time-scale", "0.01");
    refusals.put(concat(List.of("simulate", "--skip-takeover-above", "500"), oneSession), "tandem simulate: --skip-takeover-above"
        + " must be a duration with its unit, like 500s or 500ms, got 500; or give off to never skip");
    refusals.put(concat(List.of("simulate", "--skip-takeover-above", "soon"), oneSession), "tandem simulate: --skip-takeover-above"
        + " must be a duration, like 30s, 500ms or 2m, got the string \"soon\"; or give off to never skip");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--only", "medium"), "tandem train-demo: --only medium: give small, large or both");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--large-layers", "0"), "tandem train-demo: --large-layers 0: give 1 to 64");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--large-layers", "1200"), "tandem train-demo: --large-layers 1200: give 1 to 64");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--only", "small", "--large-layers", "-3"),
        "tandem train-demo: --large-layers is for the large model, which --only small does not train: drop it, or train both");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--only", "large", "--small-lr", "1e-3"),
        "tandem train-demo: --small-lr is for the small model, which --only large does not train: drop it, or train both");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--slip", "2"), "tandem train-demo: --slip 2: give a chance from 0 to below 1");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--verdict-weight", "0.5"),
        "tandem train-demo: --verdict-weight 0.5: give a weight of at least 1 (1: weighted as every other token)");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--small-lr", "-1"),
        "tandem train-demo: --small-lr -1: give a positive learning rate, such as 0.001");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--misread", "-0.5"), "tandem train-demo: --misread -0.5: give a chance from 0 to below 1");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--small-steps", "5", "--small-minutes", "1"),
        "tandem train-demo: --small-steps 5: give --small-steps or --small-minutes, not both (steps are reproducible, minutes depend on the machine)");
    refusals.put(List.of("train-demo", "--out", "/no/out", "--large-minutes", "2", "--large-steps", "7"),
        "tandem train-demo: --large-steps 7: give --large-steps or --large-minutes, not both (steps are reproducible, minutes depend on the machine)");
    refusals.put(List.of("serve", "--roles", "small", "--cluster-port", "0", "--seed-nodes", "127.0.0.1:1", "--port", "19760"),
        "tandem serve: --port 19760: only a node with the orchestrator role serves HTTP; leave it out on worker nodes,"
            + " or add orchestrator to --roles");
    refusals.put(List.of("serve", "--port", "0", "--host", "999.1.1.1"), "tandem serve: --host 999.1.1.1: no such host name"
        + " or address; give an address of this machine to bind: 127.0.0.1 (the default), 0.0.0.0 for every interface"
        + " (with --api-keys), or one of its own addresses");
    refusals.put(List.of("serve", "--port", "0", "--host", "192.0.2.1", "--api-keys", "/no/keys"), "tandem serve: --host 192.0.2.1:"
        + " not an address of this machine; give an address of this machine to bind: 127.0.0.1 (the default), 0.0.0.0 for"
        + " every interface (with --api-keys), or one of its own addresses");
    // The cluster's address as --host is checked (tester56d: another machine's failed as a taken port; '' was taken).
    refusals.put(List.of("serve", "--port", "0", "--cluster", "--cluster-host", "192.0.2.1", "--cluster-port", "0"),
        "tandem serve: --cluster-host 192.0.2.1: not an address of this machine; give an address of this machine that the"
            + " other nodes can reach: 127.0.0.1 (the default: every node on this machine) or one of its own addresses");
    refusals.put(List.of("serve", "--port", "0", "--cluster", "--cluster-host", "", "--cluster-port", "0"),
        "tandem serve: --cluster-host '': empty; give an address of this machine that the other nodes can reach: 127.0.0.1"
            + " (the default: every node on this machine) or one of its own addresses");
    refusals.put(List.of("serve", "--port", "0", "--cluster", "--cluster-host", "0.0.0.0", "--cluster-port", "0"),
        "tandem serve: --cluster-host 0.0.0.0: the wildcard address, which no other node can send to; give an address of this"
            + " machine that the other nodes can reach: 127.0.0.1 (the default: every node on this machine) or one of its own"
            + " addresses");
    refusals.put(List.of("make-checkpoint", "--shape", "gpt5", "--out", "/no/out"),
        "tandem make-checkpoint: --shape: unknown shape gpt5 (tiny, qwen2.5-0.5b, qwen2.5-1.5b)");
    refusals.forEach((args, line) -> {
      Result r = run(args.toArray(String[]::new));
      assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
      assertEquals(line, r.err(), String.join(" ", args));
    });
  }

  /**
   * Each of these would otherwise go on to load the models (here: fail on the model folder, exit 1)
   * and serve something else than the flags say, or nothing at all.
   */
  @Test
  void contradictoryServeFlagsAreUsageErrorsBeforeAnyModelLoads() {
    String alone = " contradict each other: --no-cluster runs this node alone (Akka's local provider: no cluster to join,"
        + " no port to listen on); leave out --no-cluster to make it a cluster member, or leave out ";
    String noModel = "--small /no/model"; // without the check: exit 1 on the folder, not 2
    Map<String, String> refusals = new java.util.LinkedHashMap<>();
    refusals.put("--cluster --no-cluster --port 0", "--no-cluster and --cluster" + alone + "--cluster to run it alone");
    refusals.put("--no-cluster --seed-nodes 127.0.0.1:25599 --port 0",
        "--no-cluster and --seed-nodes" + alone + "--seed-nodes to run it alone");
    refusals.put("--no-cluster --cluster-port 0 --cluster-host 127.0.0.1 --port 0",
        "--no-cluster and --cluster-port, --cluster-host" + alone + "--cluster-port, --cluster-host to run it alone");
    refusals.put("--no-cluster --roles small", "--no-cluster with the roles small: outside a cluster no orchestrator can"
        + " reach this node's workers; add orchestrator to --roles to serve HTTP from this node, or leave out --no-cluster"
        + " and give --seed-nodes to join a cluster");
    refusals.put("--no-cluster --roles orchestrator --port 0", "--no-cluster with the roles orchestrator: outside a cluster"
        + " this orchestrator has no model worker to run sessions on; add small, large or both to --roles, or leave out"
        + " --no-cluster so that worker nodes can join it");
    refusals.forEach((flags, line) -> {
      Result r = run(("serve " + flags + " " + noModel).split(" "));
      assertEquals("tandem serve: " + line, r.err(), flags);
      assertEquals(2, r.exit(), flags);
    });
    Result empty = run("serve", "--host", "", "--port", "0", "--small", "/no/model");
    assertEquals("tandem serve: --host '': empty; give an address of this machine to bind: 127.0.0.1 (the default),"
        + " 0.0.0.0 for every interface (with --api-keys), or one of its own addresses", empty.err(),
        "the JDK takes an empty host for loopback: served where the user did not say");
    assertEquals(2, empty.exit());
  }

  @Test
  void aNodeOutsideAClusterWithTheOrchestratorAndOneModelIsServingThatModelAlone() {
    // Legal (README, "Tandem as an engine"): it gets past the placement checks to the model folder.
    Result r = run("serve", "--no-cluster", "--roles", "orchestrator,small", "--port", "0", "--small", "/no/model");
    assertEquals(1, r.exit(), r.err());
    assertTrue(r.err().startsWith("tandem serve: --small /no/model: no such folder; "), r.err());
  }

  /** Runs {@code args} with the JVM option {@code -Dconfig.file=FILE}, as TANDEM_JAVA_OPTS gives it. */
  private static Result withConfigFile(String file, String... args) {
    System.setProperty("config.file", file);
    com.typesafe.config.ConfigFactory.invalidateCaches();
    try {
      return run(args);
    } finally {
      System.clearProperty("config.file");
      com.typesafe.config.ConfigFactory.invalidateCaches();
    }
  }

  @Test
  void aConfigFileThatIsNotThereOrLeavesOutApplicationConfIsOneLineSayingWhatToDo(@TempDir Path tmp) throws Exception {
    Result missing = withConfigFile("/no/such/file.conf", "serve", "--port", "0");
    assertEquals("tandem serve: -Dconfig.file=/no/such/file.conf: does not exist; give the path of a HOCON file that begins"
        + " with include classpath(\"application.conf\"), or leave -Dconfig.file out for Tandem's own application.conf",
        missing.err());
    assertEquals(1, missing.exit(), "a file that is not there exits 1, as --config's does");
    assertTrue(withConfigFile(tmp.toString(), "generate", "--prompt", "x").err()
        .startsWith("tandem generate: -Dconfig.file=" + tmp + ": is a folder, not a file; "));

    Path own = Files.writeString(tmp.resolve("node.conf"), "tandem.http.port = 18790\n");
    Result alone = withConfigFile(own.toString(), "serve", "--port", "0");
    assertEquals(1, alone.exit());
    assertTrue(alone.err().startsWith("tandem serve: -Dconfig.file=" + own + ": leaves out Tandem's application.conf"
        + " (tandem.cluster.enabled and ") && alone.err().endsWith(" other settings are missing): a config file of one's own"
        + " replaces Tandem's application.conf (Typesafe Config's rule), so begin it with include"
        + " classpath(\"application.conf\") and put your settings after that line") && !alone.err().contains("\n"), alone.err());

    Files.writeString(own, "include classpath(\"application.conf\")\ntandem.http { port = 18790\n");
    Result garbled = withConfigFile(own.toString(), "serve", "--port", "0");
    assertEquals(1, garbled.exit());
    // The brace left open is named, with its line (tester46b: Typesafe Config said it expected a ')', at the end of the file).
    assertEquals("tandem serve: -Dconfig.file=" + own + " line 2: not HOCON/JSON (its { is not closed: the file ends before a }"
        + " for it); give a HOCON file that begins with include classpath(\"application.conf\")", garbled.err());

    // An include after settings overrides those it also sets: refused, naming both lines (tester46b: max-batch 8 was 64).
    Files.writeString(own, "# my node\ntandem.small.max-batch = 8\ninclude classpath(\"application.conf\")\n");
    Result late = withConfigFile(own.toString(), "serve", "--port", "0");
    assertEquals(1, late.exit());
    assertEquals("tandem serve: -Dconfig.file=" + own + ": line 2 sets tandem.small.max-batch = 8, and Tandem's application.conf,"
        + " included after it, sets it back to 64 (in HOCON the later wins); include classpath(\"application.conf\") once,"
        + " before every setting of the file and of the files it includes, on a line of its own", late.err());
    // One at the top as well does not undo it (tester46e), nor does a file that is not UTF-8.
    Files.write(own, ("include classpath(\"application.conf\")\n# n\u00e9ud\ntandem.small.max-batch = 8\n"
        + "include classpath(\"application.conf\")\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    Result twice = withConfigFile(own.toString(), "serve", "--port", "0");
    assertTrue(twice.err().startsWith("tandem serve: -Dconfig.file=" + own + ": line 3 sets tandem.small.max-batch = 8, and"), twice.err());
    // Above it, what application.conf does not set, or sets to the same value, is no mistake (tester47f: refused by lines).
    // The same value spelled another way is the same value (tester47g: 2048MiB beside 2GiB, true beside on, refused).
    Files.writeString(own, "mb = 8\ntandem.small.queue-limit = 1024\ntandem.small { kv-cache-bytes = 2048MiB, batching = true }\n"
        + "include classpath(\"application.conf\")\ntandem.small.max-batch = ${mb}\n");
    Result kept = withConfigFile(own.toString(), "serve", "--port", "0", "--small", "/no/model");
    assertTrue(kept.err().startsWith("tandem serve: --small /no/model: no such folder"), kept.err());

    // What lines do not show: a setting above the include on its line, or in an included file above its include
    // (tester46f), is named by where its value came from.
    Files.writeString(own, "tandem.small.max-batch = 8, include classpath(\"application.conf\")\n");
    Result sameLine = withConfigFile(own.toString(), "serve", "--port", "0");
    assertEquals(1, sameLine.exit());
    assertEquals("tandem serve: -Dconfig.file=" + own + ": line 1 sets tandem.small.max-batch = 8, and Tandem's application.conf,"
        + " included after it, sets it back to 64 (in HOCON the later wins); include classpath(\"application.conf\") once, before"
        + " every setting of the file and of the files it includes, on a line of its own", sameLine.err());
    Path inner = own.resolveSibling("inner.conf");
    Files.writeString(inner, "tandem.small.max-batch = 8\ninclude classpath(\"application.conf\")\n");
    Files.writeString(own, "include \"inner.conf\"\ntandem.http.port = 18790\n");
    Result nested = withConfigFile(own.toString(), "serve", "--port", "0");
    assertTrue(nested.err().startsWith("tandem serve: -Dconfig.file=" + own + ": " + inner + ": line 1 sets"
        + " tandem.small.max-batch = 8, and Tandem's application.conf, included after it, sets it back to 64"), nested.err());
    // Through a substitution of application.conf's, too (tester47d: the share above became ${tandem.large.queue-limit}).
    Files.writeString(own, "tandem.large.per-tenant-queue-limit = 5, include classpath(\"application.conf\")\n"
        + "tandem.large.queue-limit = 3\n");
    Result substituted = withConfigFile(own.toString(), "serve", "--port", "0");
    assertTrue(substituted.err().startsWith("tandem serve: -Dconfig.file=" + own + ": line 1 sets"
        + " tandem.large.per-tenant-queue-limit = 5, and Tandem's application.conf, included after it, sets it back to"
        + " ${tandem.large.queue-limit} (3)"),
        substituted.err());
    // Included after the include of application.conf, a file's settings hold; so do those above an include of one's own
    // file whose name only has the word in it (tester47d: refused).
    Files.writeString(own, "include classpath(\"application.conf\")\ninclude \"inner.conf\"\n");
    Files.writeString(inner, "tandem.small.max-batch = 8\n");
    Result after = withConfigFile(own.toString(), "serve", "--port", "0", "--small", "/no/model");
    assertTrue(after.err().startsWith("tandem serve: --small /no/model: no such folder"), after.err());
    Files.writeString(own.resolveSibling("application-local.conf"), "tandem.small.queue-limit = 100\n");
    Files.writeString(own, "include classpath(\"application.conf\")\ntandem.small.max-batch = 8\n"
        + "include \"application-local.conf\"\n");
    Result local = withConfigFile(own.toString(), "serve", "--port", "0", "--small", "/no/model");
    assertTrue(local.err().startsWith("tandem serve: --small /no/model: no such folder"), local.err());

    Files.writeString(own, "include classpath(\"application.conf\")\ntandem.http.port = 18790\n");
    Result included = withConfigFile(own.toString(), "serve", "--port", "0", "--small", "/no/model");
    assertTrue(included.err().startsWith("tandem serve: --small /no/model: no such folder"), included.err());
  }

  /**
   * -Dconfig.resource and -Dconfig.url give a file in place of application.conf as -Dconfig.file
   * does: one that cannot be read is one line naming the option as given and what to give (exit 1),
   * not Typesafe Config's exception.
   */
  @Test
  void aConfigResourceOrUrlThatCannotBeReadIsOneLineSayingWhatToDo(@TempDir Path tmp) throws Exception {
    String leaveOut = ", or leave -Dconfig.url out for Tandem's own application.conf";
    Map<Map<String, String>, String> refusals = new java.util.LinkedHashMap<>();
    refusals.put(Map.of("config.resource", "nope.conf"), "tandem serve: -Dconfig.resource=nope.conf: no such resource on Tandem's"
        + " classpath; give -Dconfig.file=PATH for a file of your own (one that begins with include classpath(\"application.conf\")),"
        + " or the name of a resource on Tandem's classpath, or leave -Dconfig.resource out for Tandem's own application.conf");
    String url = "; give the URL of a HOCON file that begins with include classpath(\"application.conf\"), like"
        + " file:///etc/tandem/node.conf" + leaveOut;
    refusals.put(Map.of("config.url", "node.conf"), "tandem serve: -Dconfig.url=node.conf: not a URL (no protocol: node.conf)" + url);
    refusals.put(Map.of("config.url", "file:///no/such/node.conf"), "tandem serve: -Dconfig.url=file:///no/such/node.conf: does not"
        + " exist" + url);
    refusals.put(Map.of("config.url", tmp.toUri().toString()), "tandem serve: -Dconfig.url=" + tmp.toUri() + ": is a folder, not a"
        + " file" + url);
    refusals.forEach((properties, line) -> {
      Result r = runWith(properties, "serve", "--port", "0");
      assertEquals(line, r.err(), properties.toString());
      assertEquals(1, r.exit(), properties.toString());
    });
    // Two of them contradict each other: a mistake in what was given, as contradicting flags are (README, "The command line").
    Result two = runWith(Map.of("config.file", "/no/node.conf", "config.resource", "node.conf"), "serve", "--port", "0");
    assertEquals("tandem serve: -Dconfig.resource=node.conf and -Dconfig.file=/no/node.conf: Typesafe Config reads one file in"
        + " place of Tandem's application.conf, not 2; keep one of them", two.err());
    assertEquals(2, two.exit());

    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    String nobody = "http://127.0.0.1:" + closed + "/node.conf";
    Result unanswered = runWith(Map.of("config.url", nobody), "serve", "--port", "0");
    assertEquals(1, unanswered.exit());
    assertTrue(unanswered.err().startsWith("tandem serve: -Dconfig.url=" + nobody + ": cannot be read (") && unanswered.err()
        .endsWith(url) && !unanswered.err().contains("\n"), unanswered.err());

    Result alone = runWith(Map.of("config.resource", "reference.conf"), "serve", "--port", "0");
    assertEquals(1, alone.exit());
    assertTrue(alone.err().startsWith("tandem serve: -Dconfig.resource=reference.conf: leaves out Tandem's application.conf ("),
        alone.err());
    Path own = Files.writeString(tmp.resolve("node.conf"), "include classpath(\"application.conf\")\ntandem.http.port = 18690\n");
    Result included = runWith(Map.of("config.url", own.toUri().toString()), "serve", "--port", "0", "--small", "/no/model");
    assertTrue(included.err().startsWith("tandem serve: --small /no/model: no such folder"), included.err());
  }

  @Test
  void aFolderGivenForAFileAGarbledKeysFileAndAnOutOfRangePortAreNamed(@TempDir Path tmp) throws Exception {
    assertTrue(run("generate", "--prompt", "x", "--config", tmp.toString()).err()
        .startsWith("tandem generate: --config " + tmp + ": is a folder, not a file; "), "--config FOLDER");
    assertTrue(run("serve", "--api-keys", tmp.toString(), "--port", "0").err()
        .startsWith("tandem serve: --api-keys " + tmp + ": is a folder, not a file; "), "--api-keys FOLDER");
    Path keys = Files.writeString(tmp.resolve("keys.json"), "{\"api-keys\": [\n  {\"key\": \"a\", \"tenant\": \"t\"}}\n]}\n");
    Result garbled = run("serve", "--api-keys", keys.toString(), "--port", "0");
    assertEquals(1, garbled.exit());
    assertEquals("tandem serve: --api-keys " + keys + ": not JSON (line 2, column 30): a '}' where the array opened at line 1,"
        + " column 14 is still open (a ']' is missing before it); a keys file is JSON, {\"api-keys\": [{\"key\": ..., \"tenant\":"
        + " ...}, ...]}", garbled.err());
    // HOCON, which a keys file was read as once, merges a member given twice, keeping the last: no keys file.
    Path hocon = Files.writeString(tmp.resolve("keys.conf"), "api-keys = [{key = \"sk-aaaaaaaaaaaaaaaa\", tenant = a, tenant = b}]\n");
    Result merged = run("serve", "--api-keys", hocon.toString(), "--port", "0");
    assertEquals(1, merged.exit());
    assertTrue(merged.err().startsWith("tandem serve: --api-keys " + hocon + ": not JSON (line 1, column 1): "), merged.err());
    Result port = run("serve", "--port", "99999");
    assertEquals(2, port.exit());
    assertEquals("tandem serve: --port 99999: out of range, use 1-65535 (0 picks a free one)", port.err());
    Result clusterPort = run("serve", "--cluster-port", "70000");
    assertEquals(2, clusterPort.exit());
    assertEquals("tandem serve: --cluster-port 70000: out of range, use 1-65535 (0 picks a free one)", clusterPort.err());
    Result samePort = run("serve", "--cluster-port", "18080", "--port", "18080");
    assertEquals(2, samePort.exit());
    assertTrue(samePort.err().startsWith("tandem serve: --port and --cluster-port are both 18080: "), samePort.err());
    Path empty = Files.writeString(tmp.resolve("empty.yml"), "\n# nothing\n");
    assertTrue(run("generate", "--prompt", "x", "--config", empty.toString()).err()
        .startsWith("tandem generate: --config " + empty + ": the file is empty; give a speculative config"), "empty YAML");
    // A document marker with comments alone is as empty (it read as a null document: other advice for the same file).
    Path marker = Files.writeString(tmp.resolve("marker.yml"), "---\n# nothing yet\n...\n");
    assertTrue(run("generate", "--prompt", "x", "--config", marker.toString()).err()
        .startsWith("tandem generate: --config " + marker + ": the file is empty; give a speculative config"), "markers alone");
    // UTF-16 text is this file re-encoded, not another file: no advice to give another.
    Path utf16 = Files.write(tmp.resolve("utf16.yml"), "max_target_tokens: 5\n".getBytes(java.nio.charset.StandardCharsets.UTF_16LE));
    assertEquals("tandem generate: --config " + utf16 + ": not UTF-8 text but UTF-16, little-endian (its first character 'm' is"
        + " followed by a zero byte) (Tandem reads text files as UTF-8); save it as UTF-8",
        run("generate", "--prompt", "x", "--config", utf16.toString()).err());
    // A missing script, as a missing folder (exit 1), refused before the worker tried to open it (its ERROR line came first).
    Result script = run("generate", "--prompt", "x", "--mode", "small", "--small", "scripted:/no/script.json");
    assertEquals(1, script.exit());
    assertEquals("tandem generate: --small scripted:/no/script.json: no such file /no/script.json; give scripted:PATH, PATH a"
        + " script {\"tokens\": [...]}", script.err());
    assertTrue(run("generate", "--prompt", "x", "--mode", "small", "--small", "scripted:" + tmp).err()
        .startsWith("tandem generate: --small scripted:" + tmp + ": " + tmp + " is a folder, not a file; "), "a folder");
    assertTrue(run("generate", "--prompt", "x", "--mode", "small", "--small", "scripted:").err()
        .startsWith("tandem generate: --small scripted:: no file given; give scripted:PATH"), "no path");
    Path latin1 = Files.write(tmp.resolve("latin1.yml"), "help_think_word: \"caf\u00e9\"\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    assertTrue(run("generate", "--prompt", "x", "--config", latin1.toString()).err()
        .startsWith("tandem generate: --config " + latin1 + ": not UTF-8 text (line 1, byte 22 of it: 0xE9, which cannot stand there"
            + " in UTF-8; Tandem reads text files as UTF-8); save it as UTF-8, or give a speculative config"),
        "a file in another encoding (it said 'Input length = 1')");
  }

  /** An API key entry that cannot be used is the same mistake whether a keys file or a -D option gives it: exit status 2. */
  @Test
  void anApiKeyEntryThatCannotBeUsedExits2FromAKeysFileAsFromAnOption(@TempDir Path tmp) throws Exception {
    Path keys = Files.writeString(tmp.resolve("keys.json"), "{\"api-keys\": [{\"key\": \"sk-aaaaaaa\", \"tenant\": \"a\", \"max-concurrent\": 0.5}]}\n");
    Result file = run("serve", "--api-keys", keys.toString(), "--port", "0");
    assertEquals(2, file.exit(), file.err());
    assertEquals("tandem serve: --api-keys " + keys + ": api-keys[0].max-concurrent must be a whole number (0: unlimited), got 0.5",
        file.err());
    Result option = runWith(Map.of("tandem.http.api-keys.0.key", "sk-aaaaaaa", "tandem.http.api-keys.0.tenant", "a",
        "tandem.http.api-keys.0.max-concurrent", "0.5"), "serve", "--port", "0");
    assertEquals(2, option.exit(), option.err());
    assertEquals("tandem serve: tandem.http.api-keys[0].max-concurrent must be a whole number (0: unlimited), got 0.5", option.err());
    Path twice = Files.writeString(tmp.resolve("twice.json"), "[{\"key\": \"sk-bbbbbbb\", \"tenant\": \"a\"},"
        + " {\"key\": \"sk-bbbbbbb\", \"tenant\": \"b\"}]");
    Result duplicate = run("serve", "--api-keys", twice.toString(), "--port", "0");
    assertEquals(2, duplicate.exit(), duplicate.err());
    assertEquals("tandem serve: --api-keys " + twice + ": [1]: the same key as [0]; give each key once", duplicate.err());
    // Across sources as within one: a key of --api-keys given in tandem.http.api-keys too (a tester's was billed to the file's tenant).
    Path one = Files.writeString(tmp.resolve("one.json"), "[{\"key\": \"sk-bbbbbbb\", \"tenant\": \"a\"}]");
    Result both = runWith(Map.of("tandem.http.api-keys.0.key", "sk-bbbbbbb", "tandem.http.api-keys.0.tenant", "zzz"),
        "serve", "--api-keys", one.toString(), "--port", "0");
    assertEquals(2, both.exit(), both.err());
    assertEquals("tandem serve: --api-keys " + one + ": a key of tenant a is also in tandem.http.api-keys, there for tenant zzz;"
        + " give each key once", both.err());
  }

  /**
   * -Dtandem.http.api-keys.N options beside a config file that lists keys would replace its list
   * whole (tester43c: the file's keys answered 401): refused, saying why and what to do.
   */
  @Test
  void keyOptionsBesideAConfigFileThatListsKeysAreRefused(@TempDir Path tmp) throws Exception {
    Path conf = Files.writeString(tmp.resolve("node.conf"), "include classpath(\"application.conf\")\n"
        + "tandem.http.api-keys = [{key = \"sk-aaaaaaaaaaaaaaaaaaaa1\", tenant = team-a}]\n");
    Result r = runWith(Map.of("config.file", conf.toString(), "tandem.http.api-keys.1.key", "sk-yyyyyyyyyyyyyyyyyyyy9",
        "tandem.http.api-keys.1.tenant", "y"), "serve", "--port", "0");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem serve: -Dtandem.http.api-keys.1.key and -Dconfig.file=" + conf + ", which lists API keys too: options"
        + " give the list entry by entry and replace the file's whole list (Typesafe Config's rule), so its keys would stop"
        + " working; give every key in one place (the file, or -Dtandem.http.api-keys.N options alone), or add keys with"
        + " --api-keys FILE", r.err());
    assertFalse(r.err().contains("sk-"), "no key shown");
  }

  /** Who gives --api-keys means to require keys: a file that lists none must not start a server open to anyone. */
  @Test
  void aKeysFileThatListsNoKeysIsAUsageError(@TempDir Path tmp) throws Exception {
    Path keys = Files.writeString(tmp.resolve("k.json"), "{\"api-keys\": []}");
    Result r = run("serve", "--api-keys", keys.toString(), "--port", "0", "--small", "/no/model");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem serve: --api-keys " + keys + " lists no keys; add an entry {\"key\": ..., \"tenant\": ...} to its api-keys"
        + " list, or give no keys file to serve without keys (on 127.0.0.1 only)", r.err());
    Result setting = runWith(Map.of("tandem.http.api-keys-file", keys.toString()), "serve", "--port", "0", "--small", "/no/model");
    assertEquals(2, setting.exit(), setting.err());
    assertTrue(setting.err().startsWith("tandem serve: " + keys + " lists no keys; "), setting.err());
  }

  /**
   * A key with a character an {@code Authorization: Bearer} token may not have (a space) is refused
   * by one rule whether a keys file or a -D option gives it, naming the entry and never the key.
   */
  @Test
  void aKeyThatCannotBeSentAsABearerTokenIsRefusedWithoutShowingIt(@TempDir Path tmp) throws Exception {
    String rule = " may contain only letters A-Z and a-z, digits and - . _ ~ + /, then = at its end (a token of 'Authorization:"
        + " Bearer KEY', RFC 6750); its character 3 of 15 is a space (the key is not shown here); give the tenant a key of those"
        + " characters, e.g. sk- and letters and digits";
    Path keys = Files.writeString(tmp.resolve("k.json"), "{\"api-keys\": [{\"key\": \"sk 1 with space\", \"tenant\": \"a\"}]}");
    Result file = run("serve", "--api-keys", keys.toString(), "--port", "0", "--small", "/no/model");
    assertEquals(2, file.exit(), file.err());
    assertEquals("tandem serve: --api-keys " + keys + ": api-keys[0].key" + rule, file.err());
    Result option = runWith(Map.of("tandem.http.api-keys.0.key", "sk 1 with space", "tandem.http.api-keys.0.tenant", "a"),
        "serve", "--port", "0", "--small", "/no/model");
    assertEquals(2, option.exit(), option.err());
    assertEquals("tandem serve: tandem.http.api-keys[0].key" + rule, option.err());
  }

  @Test
  void aGroupOfCommandsRunWithoutOneShowsItsUsageOnStderrAndExits2() {
    Result none = run();
    assertEquals(2, none.exit());
    assertTrue(none.err().startsWith("tandem: give a command (one of generate, serve, ") && none.err().contains("Usage: tandem"),
        none.err());
    Result bench = run("bench");
    assertEquals(2, bench.exit());
    assertTrue(bench.err().startsWith("tandem bench: give a command (one of orchestration, ")
        && bench.err().contains("Usage: tandem bench"), bench.err());
  }

  @Test
  void aLogLevelVariableThatIsNoLevelIsWarnedAbout() {
    assertEquals(List.of("tandem: TANDEM_LOG=bogus is not a log level (give TRACE, DEBUG, INFO, WARN, ERROR, OFF); "
        + "logging at INFO"), Tandem.checkLogLevels(Map.of("TANDEM_LOG", "bogus")));
    assertEquals(List.of(), Tandem.checkLogLevels(Map.of("TANDEM_LOG", "debug", "TANDEM_AKKA_LOG", "INFO")));
    // The request log's switch too: "false" for off was taken silently (logback read it as DEBUG).
    assertEquals(List.of("tandem: TANDEM_REQUEST_LOG=false is not a log level (give TRACE, DEBUG, INFO, WARN, ERROR, OFF); "
        + "logging at INFO"), Tandem.checkLogLevels(Map.of("TANDEM_REQUEST_LOG", "false")));
    assertEquals(List.of(), Tandem.checkLogLevels(Map.of("TANDEM_REQUEST_LOG", "OFF")));
  }

  @Test
  void anEngineThatDoesNotAnswerIsNamedWithItsCause() {
    String tokenizer = Path.of("src/main/resources/io/tandem/ops/qwen-tokenizer").toAbsolutePath().toString();
    Result r = run("generate", "--prompt", "x", "--mode", "small", "--quiet",
        "--small", "openai:http://127.0.0.1:1/v1?model=x&tokenizer=" + tokenizer);
    assertEquals(1, r.exit());
    // In words, not Java's class (tester44a read "unreachable: ConnectException").
    assertEquals("tandem generate: --small: engine 127.0.0.1:1 unreachable: connection refused (is the engine running, on that"
        + " port?); start the engine, or give another --small", r.err());
    // One given as a device is named by that setting (session 45: "--small:" where no such flag was given).
    Result device = runWith(Map.of("tandem.small.devices.0", "openai:http://127.0.0.1:1/v1?model=x&tokenizer=" + tokenizer),
        "generate", "--prompt", "x", "--mode", "small", "--quiet");
    assertEquals(1, device.exit());
    assertEquals("tandem generate: tandem.small.devices: engine 127.0.0.1:1 unreachable: connection refused (is the engine"
        + " running, on that port?); start the engine, or give another endpoint in tandem.small.devices", device.err());
    // A model flag beside devices that are all engines has no device left: refused, not dropped (tester46d).
    Result unserved = runWith(Map.of("tandem.small.devices.0", "openai:http://127.0.0.1:1/v1?model=x"),
        "serve", "--small", "openai:http://127.0.0.1:2/v1?model=y", "--port", "0");
    assertEquals(2, unserved.exit(), unserved.err());
    assertEquals("tandem serve: --small openai:http://127.0.0.1:2/v1?model=y is not served: tandem.small.devices lists engine"
        + " specs only, each served by a worker of its own, and no device is left for the model; list it in"
        + " tandem.small.devices too (an engine spec), or add a device such as cpu for it (a checkpoint), or leave --small out",
        unserved.err());
  }

  /**
   * A URL that is not the engine's API root gets its 404 with what the URL must be, without advice
   * to start an engine that runs (tester45b).
   */
  @Test
  void anEngineUrlWithoutTheApiRootIsSaidToBeOne() throws Exception {
    String tokenizer = Path.of("src/main/resources/io/tandem/ops/qwen-tokenizer").toAbsolutePath().toString();
    // (A host name that does not resolve: EngineClientWordsTest, without a lookup leaving this machine.)
    com.sun.net.httpserver.HttpServer root = com.sun.net.httpserver.HttpServer.create(
        new java.net.InetSocketAddress("127.0.0.1", 0), 4);
    root.createContext("/v1/models", ex -> {
      ex.sendResponseHeaders(200, 2);
      ex.getResponseBody().write("{}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      ex.close();
    });
    root.start();
    try {
      int port = root.getAddress().getPort();
      Result noV1 = run("generate", "--prompt", "x", "--mode", "small", "--quiet",
          "--small", "openai:http://127.0.0.1:" + port + "?model=x&tokenizer=" + tokenizer);
      assertEquals(1, noV1.exit());
      assertEquals("tandem generate: --small: engine 127.0.0.1:" + port + " answered 404 to GET http://127.0.0.1:" + port
          + "/models: the spec's URL must be the engine's API root, where /models is (vLLM's and a Tandem node's:"
          + " http://HOST:PORT/v1)", noV1.err());
    } finally {
      root.stop(0);
    }
  }

  @Test
  void anEngineKeyVariableThatIsNotSetIsNamedBeforeAnythingStarts() {
    String spec = "openai:http://127.0.0.1:1/v1?model=x&api-key-env=TANDEM_TEST_KEY_NOBODY_SETS";
    Result r = run("generate", "--prompt", "x", "--mode", "small", "--quiet", "--small", spec);
    assertEquals(2, r.exit(), "a spec that cannot be used, as any value the command was given");
    assertEquals("tandem generate: --small: engine '" + spec + "': the environment variable TANDEM_TEST_KEY_NOBODY_SETS "
        + "(api-key-env) is not set; export TANDEM_TEST_KEY_NOBODY_SETS=KEY, the engine's API key, before starting, or leave "
        + "api-key-env out for an engine without keys", r.err());
  }

  /**
   * A fresh tester's mistakes of round 27: values that crashed libtorch or ran out of memory, zero
   * steps taken for "not given", a mode given twice, a bound named by a setting the user never set,
   * and a file that is not UTF-8 ("Input length = 1"). Each is one line and exit status 2 (a file's
   * bytes: 1), before anything loads or trains.
   */
  @Test
  void roundTwentySevensMistakesAreOneLineEach(@TempDir Path dir) throws Exception {
    Map<List<String>, String> refusals = new java.util.LinkedHashMap<>();
    refusals.put(List.of("bench", "model", "--model", "ops/demo/small", "--threads", "100000"),
        "tandem bench model: --threads 100000: give a whole number from 0 to 1024");
    refusals.put(List.of("bench", "model", "--model", "ops/demo/small", "--batch", "1,100000"),
        "tandem bench model: --batch 100000: give a whole number from 1 to 4096");
    refusals.put(List.of("train-demo", "--out", dir.resolve("t").toString(), "--small-steps", "0"),
        "tandem train-demo: --small-steps 0: give a whole number >= 1");
    refusals.put(List.of("train-demo", "--out", dir.resolve("t").toString(), "--corrected", "-0.5", "--large-traces", "verifying"),
        "tandem train-demo: --corrected -0.5: give a share from 0 to 1");
    refusals.put(List.of("train-demo", "--out", dir.resolve("t").toString(), "--corrected", "0.5"),
        "tandem train-demo: --corrected is for --large-traces verifying (decisive traces correct nothing); drop it, or give"
            + " --large-traces verifying");
    refusals.put(List.of("eval", "--modes", "small,small"),
        "tandem eval: --modes 'small,small' lists small twice; give each value once (see tandem eval --help)");
    refusals.put(List.of("eval", "--concurrency", "5000"), "tandem eval: --concurrency 5000: give a whole number from 1 to 4096");
    // An engine spec written wrong is the command line's mistake, exit 2 (tester45b: 1).
    refusals.put(List.of("generate", "--prompt", "x", "--mode", "small", "--small", "openai:http://127.0.0.1:1/v1?model=m&foo=1"),
        "tandem generate: --small: engine 'openai:http://127.0.0.1:1/v1?model=m&foo=1': unknown parameter 'foo' (model, tokenizer,"
            + " max-concurrency, max-model-len, api-key-env)");
    refusals.put(List.of("generate", "--case", "case.json", "--large", "ops/demo/large"), "tandem generate: --case brings its own"
        + " scripted models, which --large would be dropped for; give --case or --small/--large, not both");
    refusals.put(List.of("bench", "orchestration", "--sessions", "1,2000"), "tandem bench orchestration: --sessions 2000: more than"
        + " a large worker takes at once (tandem.large.max-batch 64 + tandem.large.queue-limit 256 = 320); give at most 320, or"
        + " raise those settings with -D in TANDEM_JAVA_OPTS");
    for (Map.Entry<List<String>, String> e : refusals.entrySet()) {
      Result r = run(e.getKey().toArray(String[]::new));
      assertEquals(e.getValue(), r.err(), String.join(" ", e.getKey()));
      assertEquals(2, r.exit(), String.join(" ", e.getKey()));
    }
    assertFalse(Files.exists(dir.resolve("t")), "nothing written");
    Path latin = Files.write(dir.resolve("latin.jsonl"), "{\"problem\": \"caf\u00e9\", \"answer\": \"1\"}\n"
        .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    Result notUtf8 = run("eval", "--data", latin.toString(), "--limit", "1");
    assertEquals("tandem eval: --data " + latin + ": not UTF-8 text (line 1, byte 17 of it: 0xE9, which cannot stand there in"
        + " UTF-8; Tandem reads text files as UTF-8); save it as UTF-8", notUtf8.err());
    StringWriter out = new StringWriter();
    var cl = Tandem.commandLine();
    cl.setOut(new PrintWriter(out, true));
    assertEquals(0, cl.execute("generate", "--version"));
    assertEquals("tandem " + io.tandem.protocol.TandemVersion.NUMBER, out.toString().strip(), "a subcommand's --version says it");
  }
  /**
   * Round 28's mistakes: a file's bytes exit 1 in one line as every file's do; a flag past what the
   * model allows is a usage error naming its range; a number beyond a double is said to be one, not
   * echoed as Infinity; {@code help -V} says the version.
   */
  @Test
  void roundTwentyEightsMistakesAreOneLineEach(@TempDir Path dir) throws Exception {
    Path latin = Files.write(dir.resolve("keys.conf"), "[{\"key\": \"sk-caf\u00e9\", \"tenant\": \"a\"}]"
        .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    Result keys = run("serve", "--api-keys", latin.toString(), "--port", "0");
    assertEquals("tandem serve: --api-keys " + latin + ": not UTF-8 text (line 1, byte 17 of it: 0xE9, which cannot stand there"
        + " in UTF-8; Tandem reads text files as UTF-8); save it as UTF-8", keys.err());
    assertEquals(1, keys.exit());

    String demo = io.tandem.ops.demo.DemoModels.dir().resolve("small").toString();
    Result prompt = run("bench", "model", "--model", demo, "--prompt-tokens", "100000");
    assertEquals("tandem bench model: --prompt-tokens 100000: give a whole number from 1 to 992: this model's context length 1024,"
        + " its max_position_embeddings, less --new-tokens 32", prompt.err());
    assertEquals(2, prompt.exit());

    Result infinite = run("train-demo", "--out", dir.resolve("t").toString(), "--small-minutes", "1e309");
    assertEquals("tandem train-demo: --small-minutes 1e309: not a finite number; give a positive number of minutes, at most 10000",
        infinite.err());
    assertEquals(2, infinite.exit());

    StringWriter out = new StringWriter();
    var cl = Tandem.commandLine();
    cl.setOut(new PrintWriter(out, true));
    assertEquals(0, cl.execute("help", "-V"));
    assertEquals("tandem " + io.tandem.protocol.TandemVersion.NUMBER, out.toString().strip(), "help -V says the version, as -V does");
  }

  /** A make-checkpoint that fails takes away the folders it created for --out, and only those. */
  @Test
  void aFailedMakeCheckpointLeavesNoFolderItCreated(@TempDir Path dir) throws Exception {
    Path noTokenizer = Files.createDirectories(dir.resolve("no-tokenizer"));
    Path checkpoint = dir.resolve("made/ckpt");
    Result made = run("make-checkpoint", "--shape", "tiny", "--tokenizer", noTokenizer.toString(), "--out", checkpoint.toString());
    assertEquals(1, made.exit(), made.err());
    assertFalse(Files.exists(dir.resolve("made")), "the folders the failed command created are gone");
    Path own = Files.createDirectories(dir.resolve("own"));
    run("make-checkpoint", "--shape", "tiny", "--tokenizer", noTokenizer.toString(), "--out", own.toString());
    assertTrue(Files.isDirectory(own), "a folder that was there before is left");
    assertTrue(made.err().contains("--tokenizer " + noTokenizer + ": no tokenizer.json there"), made.err());
  }

  /** A --tokenizer whose tokenizer.json is not a tokenizer is refused before anything is written (it was copied in). */
  @Test
  void aTokenizerThatDoesNotLoadIsRefusedByMakeCheckpoint(@TempDir Path dir) throws Exception {
    Path broken = Files.createDirectories(dir.resolve("broken"));
    Files.writeString(broken.resolve("tokenizer.json"), "{\"model\": \"none\"}");
    Files.writeString(broken.resolve("tokenizer_config.json"), "{}");
    Path checkpoint = dir.resolve("ckpt");
    Result made = run("make-checkpoint", "--shape", "tiny", "--tokenizer", broken.toString(), "--out", checkpoint.toString());
    assertEquals(1, made.exit(), made.err());
    assertTrue(made.err().contains("--tokenizer " + broken + ": its tokenizer.json does not load as a tokenizer"), made.err());
    assertEquals(1, made.err().strip().lines().count(), made.err());
    assertFalse(Files.exists(checkpoint), "nothing written");
  }

  /**
   * The checkpoint's config names Qwen's special-token ids: a tokenizer without them (the demo's
   * 114-token one) is refused, as is a --tokenizer that is a file or absent, each in one line.
   */
  @Test
  void makeCheckpointRefusesATokenizerWithoutQwensSpecialTokenIds(@TempDir Path dir) throws Exception {
    Path demoTokenizer = LauncherIT.repo().resolve("ops/demo/small");
    Path checkpoint = dir.resolve("ckpt");
    Result made = run("make-checkpoint", "--shape", "tiny", "--tokenizer", demoTokenizer.toString(), "--out", checkpoint.toString());
    assertEquals(1, made.exit(), made.err());
    assertEquals("tandem make-checkpoint: --tokenizer " + demoTokenizer + ": its vocabulary has <|endoftext|> at id 0, but the"
        + " checkpoint's config names Qwen's <|endoftext|> 151643 (bos and pad) and <|im_end|> 151645 (eos), with 151936"
        + " embedding rows; give a Qwen2.5 tokenizer folder, or leave --tokenizer out for Qwen's", made.err());
    assertFalse(Files.exists(checkpoint), "nothing written");

    Path file = demoTokenizer.resolve("tokenizer.json");
    Result aFile = run("make-checkpoint", "--shape", "tiny", "--tokenizer", file.toString(), "--out", checkpoint.toString());
    assertEquals(1, aFile.exit(), aFile.err());
    assertTrue(aFile.err().startsWith("tandem make-checkpoint: --tokenizer " + file + ": a file, not a folder; "), aFile.err());
    Result absent = run("make-checkpoint", "--shape", "tiny", "--tokenizer", dir.resolve("nowhere").toString(), "--out",
        checkpoint.toString());
    assertEquals(1, absent.exit(), absent.err());
    assertTrue(absent.err().startsWith("tandem make-checkpoint: --tokenizer " + dir.resolve("nowhere") + ": no such folder; "),
        absent.err());
  }

  /** help reads a command at any depth, as its --help prints it; a name that is no command there is a usage error. */
  @Test
  void helpShowsASubcommandsHelpAndRefusesANameThatIsNoCommand() {
    StringWriter nested = new StringWriter();
    StringWriter direct = new StringWriter();
    var cl = Tandem.commandLine();
    cl.setOut(new PrintWriter(nested, true));
    assertEquals(0, cl.execute("help", "bench", "http"));
    var again = Tandem.commandLine();
    again.setOut(new PrintWriter(direct, true));
    assertEquals(0, again.execute("bench", "http", "--help"));
    assertTrue(nested.toString().startsWith("Usage: tandem bench http "), nested.toString());
    assertEquals(direct.toString(), nested.toString());
    StringWriter withH = new StringWriter();
    var third = Tandem.commandLine();
    third.setOut(new PrintWriter(withH, true));
    assertEquals(0, third.execute("help", "bench", "http", "-h"));
    assertEquals(direct.toString(), withH.toString(), "help bench http -h is bench http's help, not help's own");
    StringWriter own = new StringWriter();
    var fourth = Tandem.commandLine();
    fourth.setOut(new PrintWriter(own, true));
    assertEquals(0, fourth.execute("help", "-h"));
    assertTrue(own.toString().startsWith("Usage: tandem help "), own.toString());

    Result extra = run("help", "eval", "extra");
    assertEquals(2, extra.exit());
    assertEquals("tandem help: 'extra' is not a command of tandem eval (it has no commands)", extra.err());
    Result unknown = run("help", "bench", "htp");
    assertEquals(2, unknown.exit());
    assertTrue(unknown.err().startsWith("tandem help: 'htp' is not a command of tandem bench; did you mean http? (its commands: "),
        unknown.err());
    // As 'tandem serv' is answered (tester46b).
    assertTrue(run("help", "serv").err().startsWith("tandem help: 'serv' is not a command of tandem; did you mean serve? ("),
        run("help", "serv").err());
    // serve has no modes of its own: where the mode is set, not --roles (tester46b).
    assertTrue(run("serve", "--modes", "small").err().startsWith("tandem serve: Unknown option: '--modes'; the default mode is the"
        + " setting tandem.http.default-mode"), run("serve", "--modes", "small").err());
  }

  /** help is parsed as any command: an unknown option is a usage error, not the help (exit 0). */
  /** A -D option given as an argument, as java takes one, is pointed to TANDEM_JAVA_OPTS (tester59c). */
  @Test
  void aSystemPropertyGivenAsAnArgumentIsPointedToTandemJavaOpts() {
    Result r = run("serve", "-Dtandem.http.port=18301");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem serve: Unknown option: '-Dtandem.http.port=18301'; a -D option is the JVM's: give it in TANDEM_JAVA_OPTS"
        + " (TANDEM_JAVA_OPTS=\"-Dtandem.http.port=18301\" ./tandem serve ...) (see tandem serve --help)", r.err());
    // A setting there is not, but an option of the command (tester59h).
    Result option = run("serve", "-Dtandem.served-model-name=my model");
    assertEquals("tandem serve: Unknown option: '-Dtandem.served-model-name=my model'; did you mean the option"
        + " --served-model-name? (see tandem serve --help)", option.err());
    // A longer key's last part is no option's name (tester59i: tandem.cluster.host is not --host).
    assertTrue(run("serve", "-Dtandem.cluster.host=127.0.0.1").err().contains("give it in TANDEM_JAVA_OPTS"));
    Result top = run("-Dtandem.http.port=18301", "serve");
    assertTrue(top.err().contains("(TANDEM_JAVA_OPTS=\"-Dtandem.http.port=18301\" ./tandem ...)"), top.err());
  }

  @Test
  void helpRefusesAnUnknownOption() {
    Result r = run("help", "--nope");
    assertEquals(2, r.exit());
    assertEquals("tandem help: Unknown option: '--nope' (see tandem help --help)", r.err());
  }

  /**
   * Round 29's: a scripted case's content is judged naming the flag and the file (its mistakes named
   * a temp file, or were Jackson's raw message); eval --limit reads no further than its problems.
   */
  @Test
  void aScriptedCasesContentIsJudgedNamingItsFlagAndFile(@TempDir Path dir) throws Exception {
    Path notJson = Files.writeString(dir.resolve("case.json"), "small: [a]");
    Result r = run("generate", "--case", notJson.toString());
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("tandem generate: --case " + notJson + ": not JSON (line 1, column 1): 'small' is no JSON value"), r.err());
    assertTrue(r.err().endsWith("; give a scripted case {\"small\": [\"token\", ...], \"large\": [...], \"config\": {...}} as in"
        + " ops/src/test/resources/fixtures/scripted/"), r.err());
    Path noSmall = Files.writeString(dir.resolve("large-only.json"), "{\"large\": [\"a\"]}");
    assertTrue(run("generate", "--case", noSmall.toString()).err().startsWith("tandem generate: --case " + noSmall
        + ": no 'small' list; give a scripted case {"));
    Path number = Files.writeString(dir.resolve("number.json"), "{\"small\": [\"a\", 7], \"large\": [\"b\"]}");
    Result notText = run("bench", "http", "--scripted", number.toString());
    assertEquals("tandem bench http: --scripted " + number + ": small[1] is 7, not a string; each token of a script is its text",
        notText.err());
    assertEquals(2, notText.exit(), "a field not of its shape: a value that cannot be used, as a key's is");
    Path maxTokens = Files.writeString(dir.resolve("max.json"), "{\"small\": [\"a\"], \"large\": [\"b\"], \"max_tokens\": \"many\"}");
    Result many = run("generate", "--case", maxTokens.toString());
    assertEquals("tandem generate: --case " + maxTokens + ": \"max_tokens\" is \"many\"; give a whole number of at least 1, or leave it out",
        many.err());
    assertEquals(2, many.exit());
    Path listConfig = Files.writeString(dir.resolve("list-config.json"), "{\"small\": [\"a\"], \"large\": [\"b\"], \"config\": [1]}");
    Result list = run("generate", "--case", listConfig.toString());
    assertEquals("tandem generate: --case " + listConfig + ": \"config\" is [1]; give the speculative config as a mapping of"
        + " keys to values, like {\"max_target_tokens\": 20}, or leave it out", list.err());
    assertEquals(2, list.exit());

    Path misspelt = Files.writeString(dir.resolve("misspelt.json"), "{\"small\": [\"a\"], \"large\": [\"b\"], \"promt\": \"x\"}");
    Result unknown = run("generate", "--case", misspelt.toString());
    assertEquals("tandem generate: --case " + misspelt + ": unknown key 'promt' (a case has small, large, config, prompt, max_tokens)",
        unknown.err());
    assertEquals(2, unknown.exit(), "a key's mistake, as one in the case's config is");

    // The case's config is read by bench http too (it was ignored), its numbers as written (1e-400 said "got 0").
    Path tiny = Files.writeString(dir.resolve("tiny.json"), "{\"small\": [\"a\"], \"large\": [\"b\"], \"config\": {\"max_target_tokens\": 1e-400}}");
    for (List<String> command : List.of(List.of("generate", "--case"), List.of("bench", "http", "--scripted"))) {
      List<String> args = new ArrayList<>(command);
      args.add(tiny.toString());
      Result refused = run(args.toArray(String[]::new));
      assertEquals("tandem " + String.join(" ", command.subList(0, command.size() - 1)) + ": " + command.get(command.size() - 1)
          + " " + tiny + ": max_target_tokens must be an integer, got 1E-400", refused.err());
      assertEquals(2, refused.exit(), "a key's mistake");
    }

    // bench http reads a case as generate does; a value nested a million deep is shown clipped (its
    // toString overflowed the stack), and so is a long one.
    assertEquals("tandem bench http: --scripted " + maxTokens + ": \"max_tokens\" is \"many\"; give a whole number of at least 1, or leave it out",
        run("bench", "http", "--scripted", maxTokens.toString()).err());
    int deep = 1_000_000;
    Path nested = Files.writeString(dir.resolve("nested.json"), "{\"small\": [" + "[".repeat(deep) + "]".repeat(deep) + "], \"large\": []}");
    Result r2 = run("generate", "--case", nested.toString());
    assertEquals("tandem generate: --case " + nested + ": small[0] is " + "[".repeat(64) + "..., not a string; each token of a script is its text", r2.err());
    // An empty token, or half an emoji, is the case's mistake, said before any worker starts (tester53c: exit 1, naming
    // the script written from the case).
    Path empty = Files.writeString(dir.resolve("empty.json"), "{\"small\": [\"a\", \"\"], \"large\": [\"b\"]}");
    Result emptyToken = run("generate", "--case", empty.toString());
    assertEquals("tandem generate: --case " + empty + ": small[1] is empty; each token of a script is its text, of one character"
        + " or more", emptyToken.err());
    assertEquals(2, emptyToken.exit());
    Path half = Files.writeString(dir.resolve("half.json"), "{\"small\": [\"a\"], \"large\": [\"\\ud83d\", \"\\ude42\"]}");
    assertEquals("tandem generate: --case " + half + ": large[0] holds a lone UTF-16 surrogate, which no text can hold (an output's"
        + " UTF-8 could not be written); give a character whole in one token", run("generate", "--case", half.toString()).err());
    // So is one in a scripted:FILE model's script (tester53e: the worker's ERROR and exit 1; "?" in answers).
    Path script = Files.writeString(dir.resolve("script.json"), "{\"tokens\": [\"a\", \"\"]}");
    Result scriptEmpty = run("generate", "--prompt", "hi", "--small", "scripted:" + script, "--large", "scripted:" + script);
    assertEquals("tandem generate: --small scripted:" + script + ": " + script + ": tokens[1] is empty; scripted tokens need text",
        scriptEmpty.err());
    assertEquals(2, scriptEmpty.exit());
    Path keys = Files.writeString(dir.resolve("keys.conf"), "{\"api-keys\": " + "[".repeat(deep) + "]".repeat(deep) + "}");
    assertEquals("tandem serve: --api-keys " + keys + ": nested too deeply to read; expected {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}",
        run("serve", "--api-keys", keys.toString(), "--port", "0").err());
    Path twice = Files.writeString(dir.resolve("twice.json"), "{\"small\": [\"a\"], \"small\": [\"b\"], \"large\": []}");
    assertTrue(run("generate", "--case", twice.toString()).err().startsWith("tandem generate: --case " + twice + ": not JSON (line 1, column 18): the member \"small\" appears twice in the object"
        + " that begins at line 1, column 1"));
    Path after = Files.writeString(dir.resolve("after.json"), "{\"small\": [\"a\"], \"large\": []} {}");
    assertTrue(run("generate", "--case", after.toString()).err().startsWith("tandem generate: --case " + after + ": not JSON (line 1, column 31): more JSON after the object"
        + " had ended (a file is one JSON object)"));

    // A link to nothing is said to be one; "-" is not standard input here.
    Path loop = dir.resolve("loop");
    Files.createSymbolicLink(loop, loop);
    assertTrue(run("eval", "--data", loop.toString()).err().startsWith("tandem eval: --data " + loop + ": a symbolic link to nothing"));
    assertTrue(run("eval", "--data", "-").err().startsWith("tandem eval: --data -: standard input is given as /dev/stdin; "));

    // The third line is not JSON: with --limit 2 it is never read (a pipe without end is read as far as needed).
    Path data = Files.writeString(dir.resolve("d.jsonl"), "{\"problem\": \"a\", \"answer\": \"1\"}\n\n"
        + "{\"problem\": \"b\", \"answer\": \"2\"}\nnot json\n");
    assertEquals(List.of("a", "b"), io.tandem.ops.eval.Problem.readJsonl(data, 2).stream().map(io.tandem.ops.eval.Problem::problem).toList());
    assertTrue(assertThrows(IllegalArgumentException.class, () -> io.tandem.ops.eval.Problem.readJsonl(data))
        .getMessage().startsWith(data + " line 4: not JSON"));
  }

  /**
   * The scripts and latency profiles simulate and the benches write go to a folder of their own in
   * the temporary directory, which is removed when the command ends, refused or done: it was left
   * every time (six CI runs left 36 {@code tandem-simulate*} folders in /tmp).
   */
  @Test
  void simulateAndBenchRemoveTheirScratchFoldersHoweverTheyEnd() throws Exception {
    Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
    java.util.function.Supplier<java.util.Set<Path>> scratch = () -> {
      try (var all = Files.list(tmp)) {
        return all.filter(p -> p.getFileName().toString().matches("tandem-(simulate|bench|case).*"))
            .collect(java.util.stream.Collectors.toSet());
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    var before = scratch.get();
    assertEquals(2, run("simulate", "--script-source", "generated:lots").exit());
    assertEquals(2, run("simulate", "--latency", "h200", "--sessions", "5").exit());
    assertEquals(2, run("bench", "orchestration", "--sessions", "100000").exit());
    Result done = run("simulate", "--sessions", "1", "--concurrency", "1", "--orchestrators", "1", "--small-workers", "1",
        "--large-workers", "1", "--time-scale", "0.01", "--script-source", "generated:50");
    assertEquals(0, done.exit(), done.err());
    var left = new java.util.HashSet<>(scratch.get());
    left.removeAll(before);
    assertEquals(java.util.Set.of(), left, "folders left in " + tmp);
  }
}
