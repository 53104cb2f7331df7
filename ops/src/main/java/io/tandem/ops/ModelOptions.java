package io.tandem.ops;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.ops.demo.DemoModels;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.LoadedConfig;
import io.tandem.protocol.config.PaperConfigLoader;
import io.tandem.protocol.config.SpeculativeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * Options shared by the commands that run the two models: which models, which config, sampling.
 * A role whose model is given neither by its flag nor by {@code tandem.small.model} /
 * {@code tandem.large.model} runs the demo pair in {@code ops/demo/}, as every such command says in
 * its {@code --help}, unless its {@code tandem.ROLE.devices} are all remote engines.
 */
public final class ModelOptions {
  @Option(names = "--small", description = "Small model: checkpoint folder, scripted:PATH, simulated:PATH?latency=PROFILE, "
      + "or a remote engine openai:http://HOST:PORT/v1?model=NAME[&tokenizer=DIR][&max-concurrency=N][&max-model-len=N][&api-key-env=VAR]. "
      + "Default: tandem.small.model, else none when tandem.small.devices are all engine specs, "
      + "else the demo small model (ops/demo/small).")
  String small;

  @Option(names = "--large", description = "Large model, as --small. Default: tandem.large.model, else none when "
      + "tandem.large.devices are all engine specs, else the demo large model (ops/demo/large).")
  String large;

  @Option(names = "--config", description = "Speculative config: the paper's YAML (e.g. 1b_32b.yml). Default: tandem.speculative.")
  Path config;

  @Option(names = "--device", description = "Device for both models (cpu; gpu0, ... need a CUDA build of PyTorch, and Tandem ships the CPU one: serve a GPU model through an engine, openai:URL?model=NAME), replacing tandem.ROLE.devices. "
      + "Default: tandem.small.devices and tandem.large.devices (cpu; engine specs there run one worker per endpoint). "
      + "Each CPU worker's intra-op threads: tandem.ROLE.threads (0, the default: the cores divided among the CPU workers; "
      + "e.g. TANDEM_JAVA_OPTS=\"-Xmx8g -Dtandem.large.threads=2\").")
  String device;

  @Option(names = "--temperature", defaultValue = "0.6", description = "Sampling temperature; 0 is greedy. Default: ${DEFAULT-VALUE} (the paper's).")
  double temperature;

  @Option(names = "--top-k", defaultValue = "50", description = "Top-k: the k most likely tokens; 0 or -1: off (all tokens, as in vLLM). Default: ${DEFAULT-VALUE}.")
  int topK;

  @Option(names = "--top-p", defaultValue = "0.95", description = "Top-p. Default: ${DEFAULT-VALUE}.")
  double topP;

  @Option(names = "--seed", description = "Seed for a reproducible run. Default: generate none (each run samples anew"
      + " at a temperature above 0); eval 0; bench serve each session's own, from its run and place (the same every"
      + " invocation), which a seed given moves.")
  Long seed;

  /**
   * The sampling flags as a request's parameters.
   *
   * @throws UsageError naming the flag whose value is out of its range (a temperature over 2, as the
   *     API refuses; SamplingParams names the
   *     request field, {@code top_p}; its flag is the same name in kebab case, {@code --top-p})
   */
  SamplingParams sampling() {
    // As the API refuses a request's temperature over 2 (OpenAI's range), every command refuses the flag's.
    if (temperature > 2)
      throw new UsageError("--temperature " + SamplingParams.shown(temperature) + ": at most 2 (OpenAI's range, what a request may ask for)");
    try {
      return new SamplingParams(temperature, topK, topP, seed);
    } catch (IllegalArgumentException e) {
      java.util.regex.Matcher field = java.util.regex.Pattern.compile("(\\w+) (.*)").matcher(e.getMessage());
      if (!field.matches()) throw new UsageError(e.getMessage(), e);
      throw new UsageError("--" + field.group(1).replace('_', '-') + ": " + field.group(2), e);
    }
  }

  /** Set by a command's {@code --quiet}: the loader's warnings about a --config file (keys not used here) are not printed. */
  boolean quietWarnings;
  /** The models are a --case's scripts, not flags given: one the run does not use is no mistake of the user's. */
  boolean fromCase;

  /** The speculative config, printing what the loader had to say about the file (unless {@link #quietWarnings}). */
  SpeculativeConfig speculative(Config base) {
    if (config == null) return SpeculativeConfig.fromHocon(base);
    String expected = "give a speculative config in the paper's YAML (e.g. its 1b_32b.yml), or leave --config out for "
        + "tandem.speculative";
    requireInputFile("--config", config, expected);
    String yaml;
    try {
      yaml = io.tandem.protocol.text.Utf8Files.read("--config", config);
    } catch (IllegalArgumentException e) {
      // Not UTF-8 (said as every file's is; bytes of no text encoding may be another file: what to give instead), or over the read cap.
      boolean text = e instanceof io.tandem.protocol.text.Utf8Files.TooLarge
          || e.getCause() instanceof io.tandem.protocol.text.Utf8Files.NotUtf8ButWide;
      throw new IllegalArgumentException(e.getMessage() + (text ? "" : ", or " + expected), e);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("--config " + config + ": cannot read it (" + Tandem.message(e) + "); " + expected, e);
    }
    // Comments and document markers (---, ...) alone are no document either: empty, as PyYAML reads them.
    if (yaml.lines().map(String::strip).allMatch(l -> l.isEmpty() || l.startsWith("#") || l.equals("---") || l.equals("...")))
      throw new IllegalArgumentException("--config " + config + ": the file is empty; " + expected);
    // Its mistakes and warnings name the file as the other --config messages do: the flag and the path as given.
    LoadedConfig loaded = PaperConfigLoader.parseYaml(yaml, "--config " + config);
    if (!quietWarnings) {
      for (String w : loaded.warnings()) System.err.println("tandem: " + w);
      notReadBeside(base).ifPresent(w -> System.err.println("tandem: " + w));
    }
    return loaded.config();
  }

  /**
   * What says that the {@code tandem.speculative} settings given (by {@code -D}, a config file) are not read beside
   * {@code --config}, whose YAML is the whole speculative config; empty where none was given (tester59c:
   * {@code -Dtandem.speculative.max-target-tokens=1} beside --config was dropped without a word).
   */
  java.util.Optional<String> notReadBeside(Config base) {
    if (!base.hasPath("tandem.speculative")) return java.util.Optional.empty();
    java.util.Map<String, String> given = new java.util.TreeMap<>();
    for (java.util.Map.Entry<String, com.typesafe.config.ConfigValue> e : base.getConfig("tandem.speculative").entrySet()) {
      String origin = e.getValue().origin().description();
      // The defaults' own file, not any whose name holds its name (tester59e: my-reference.conf was taken for it).
      if (!"reference.conf".equals(e.getValue().origin().resource())) given.put("tandem.speculative." + e.getKey(), origin.replaceAll(":\\s*\\d+$", ""));
    }
    if (given.isEmpty()) return java.util.Optional.empty();
    java.util.Set<String> origins = new java.util.LinkedHashSet<>(given.values());
    return java.util.Optional.of(String.join(", ", given.keySet()) + " (" + String.join("; ", origins) + ") "
        + (given.size() == 1 ? "is" : "are") + " not read: --config " + config + " is the whole speculative config; give"
        + (given.size() == 1 ? " it" : " them") + " there, under the paper's key names (max_target_tokens, ...)");
  }

  /**
   * A file a command reads, refused with one line when it is missing, a folder or not readable; a
   * pipe or a device is read as a file.
   *
   * @param expected what to give instead, as the message ends ("give a ...")
   * @throws IllegalArgumentException naming {@code option} and what is wrong
   */
  static void requireInputFile(String option, Path file, String expected) {
    if (Files.isDirectory(file))
      throw new IllegalArgumentException(option + " " + file + ": is a folder, not a file; " + expected);
    // A pipe (--data <(head -5 math.jsonl)) or a device is read as it comes: what it holds is judged as a file's.
    if (file.toString().equals("-"))
      throw new IllegalArgumentException(option + " -: standard input is given as /dev/stdin; " + expected);
    if (!Files.exists(file))
      throw new IllegalArgumentException(option + " " + file + ": " + (Files.isSymbolicLink(file)
          ? "a symbolic link to nothing (its target is missing, or links back to it)" : "no such file" + fromWorkingFolder(file))
          + "; " + expected);
    if (!Files.isReadable(file))
      throw new IllegalArgumentException(option + " " + file + ": cannot be read (no permission); " + expected);
  }

  /**
   * The node configuration with this command's devices and a model for each of {@code roles}.
   *
   * <p>Devices: {@code --device}, when given, replaces both roles' {@code tandem.ROLE.devices};
   * otherwise the configuration's lists stand (one worker per entry; an engine spec there is a
   * worker of that endpoint, as {@link TandemNode} starts it). Model: its flag, else its {@code
   * tandem.ROLE.model}, else, for a role whose devices are not all engine specs, the demo pair's
   * model (logged at INFO, so that {@code --quiet} hides it); a role served only by engines in its
   * devices needs no model. A model folder that does not exist, a malformed engine spec or a device
   * this machine lacks fails here, before anything loads, as does a node setting that cannot be
   * used ({@link TandemNode.Settings}).
   *
   * @throws IllegalArgumentException naming the flag (or config key) whose value is wrong
   * @throws IllegalStateException when the demo pair is needed but cannot be found
   */
  Config nodeConfig(Config base, Collection<Role> roles) {
    TandemNode.Settings.of(base); // the node's own settings are checked before any model is named, let alone loaded
    Config c = base;
    if (device != null) {
      requireDevice(device, "--device");
      for (Role r : Role.values())
        c = c.withValue("tandem." + r + ".devices", ConfigValueFactory.fromIterable(List.of(device)));
    }
    Map<Role, String> given = new EnumMap<>(Role.class);
    // Every model and device given is checked before the demo pair is named for the others: the error comes alone.
    for (Role r : roles) {
      String key = "tandem." + r + ".model";
      String flag = r == Role.small ? small : large;
      if (flag != null && flag.isBlank())
        throw new UsageError("--" + r + " is empty; give a checkpoint folder, scripted:PATH, simulated:PATH?latency=PROFILE or "
            + "openai:URL?model=NAME, or leave the option out for tandem." + r + ".model (else the demo " + r + " model)");
      String model = flag != null ? flag : c.getString(key);
      if (!model.isBlank()) requireFolderExists(model, flag != null ? "--" + r : key);
      if (device == null)
        for (String d : c.getStringList("tandem." + r + ".devices")) {
          if (io.tandem.worker.EngineSpec.isEngine(d)) requireFolderExists(d, "tandem." + r + ".devices");
          else requireDevice(d, "tandem." + r + ".devices");
        }
      // Every device an engine, each its own worker, the model not among them: no device is left to run it, unserved
      // without a word (tester46d: --small openai:A beside tandem.small.devices = [openai:B] served B alone).
      List<String> devices = c.getStringList("tandem." + r + ".devices");
      if (!model.isBlank() && !devices.isEmpty() && !devices.contains(model)
          && devices.stream().allMatch(io.tandem.worker.EngineSpec::isEngine))
        throw UsageError.of(flag != null ? "--" + r : key, (flag != null ? "--" + r : key) + " " + model + " is not served:"
            + " tandem." + r + ".devices lists engine specs only, each served by a worker of its own, and no device is left"
            + " for the model; list it in tandem." + r + ".devices too (an engine spec), or add a device such as cpu for"
            + " it (a checkpoint), or leave " + (flag != null ? "--" + r : key) + " out", null);
      given.put(r, model);
    }
    // A model flag of a role this run does not use (generate --mode large --small X) would be
    // dropped without a word, a mistake in it unseen.
    for (Role r : Role.values()) {
      String flag = r == Role.small ? small : large;
      if (flag != null && !roles.contains(r) && !quietWarnings && !fromCase)
        System.err.println("tandem: --" + r + " " + flag + " is not used: this run loads no " + r + " model ("
            + (roles.isEmpty() ? "no model at all" : "only the " + roles.iterator().next() + " one") + ")");
    }
    List<Role> demo = new java.util.ArrayList<>();
    for (Role r : roles) {
      String model = given.get(r);
      if (model.isBlank() && !c.getStringList("tandem." + r + ".devices").stream().allMatch(io.tandem.worker.EngineSpec::isEngine)) {
        model = DemoModels.dir().resolve(r.name()).toString();
        demo.add(r);
      }
      c = c.withValue("tandem." + r + ".model", ConfigValueFactory.fromAnyRef(model));
    }
    // A mistake in a role's settings is one line, before the demo pair is named.
    roleSpecs(c, roles);
    for (Role r : demo) {
      Role other = r == Role.small ? Role.large : Role.small;
      if (roles.contains(other) && !demo.contains(other)) {
        // One model of one's own beside a demo one is rarely meant (tester48b: --small alone answered " ch ch ch" beside
        // the demo large model, with an INFO line alone to say so). The other role's model is its devices where they are
        // engine specs alone (tester49c: a blank name).
        String others = c.getString("tandem." + other + ".model");
        if (others.isBlank()) others = String.join(", ", c.getStringList("tandem." + other + ".devices"));
        LoggerFactory.getLogger(ModelOptions.class).warn("no --{} given: {} is paired with the demo {} model {}, which is tiny and"
            + " knows only sums of six two-digit numbers; give --{} for a model of your own (or, with tandem serve, send"
            + " \"tandem\": {\"mode\": \"{}\"} to use {} alone)", r, io.tandem.protocol.text.Secrets.redact(others), r,
            c.getString("tandem." + r + ".model"), r, other, io.tandem.protocol.text.Secrets.redact(others));
      } else {
        LoggerFactory.getLogger(ModelOptions.class).info("no --{} given: the demo {} model {} (tiny, trained on sums of "
            + "six two-digit numbers; ops/demo/README.md says what it can do)", r, r, c.getString("tandem." + r + ".model"));
      }
    }
    return c;
  }

  /**
   * A one-off command's remote engines answer now: one that does not is named with its cause
   * (unreachable, wrong model) instead of the session waiting for a worker that never comes.
   *
   * @throws IllegalStateException naming the role's flag, the engine and what is wrong with it
   */
  static void requireEnginesAnswer(Config nodeConfig, Collection<Role> roles) throws Exception {
    io.tandem.worker.EngineSettings settings = io.tandem.worker.EngineSettings.fromConfig(nodeConfig);
    for (Role r : roles) {
      // Each engine and where it was given: TandemNode gives each engine device its own worker, and the model to the other devices.
      Map<String, String> engines = new java.util.LinkedHashMap<>();
      for (String d : nodeConfig.getStringList("tandem." + r + ".devices")) {
        if (io.tandem.worker.EngineSpec.isEngine(d)) engines.putIfAbsent(d, "tandem." + r + ".devices");
        else engines.putIfAbsent(nodeConfig.getString("tandem." + r + ".model"), "--" + r);
      }
      for (Map.Entry<String, String> engine : engines.entrySet()) {
        if (!io.tandem.worker.EngineSpec.isEngine(engine.getKey())) continue;
        String problem = io.tandem.worker.EngineEndpoint.health(io.tandem.worker.EngineSpec.parse(engine.getKey()), settings).get();
        String givenBy = engine.getValue();
        if (problem != null)
          // Advice for an engine not there; a refused key, another model, a wrong URL say their own.
          throw new IllegalStateException(givenBy + ": " + problem + (problem.contains(" unreachable: ")
              ? "; start the engine, or give another " + (givenBy.startsWith("--") ? givenBy : "endpoint in " + givenBy) : ""));
      }
    }
  }

  /**
   * The spec of each of {@code roles}, read from a {@link #nodeConfig}.
   *
   * @throws IllegalArgumentException naming the key of a role's setting that cannot be used, or the
   *     roles' {@code kv-cache-bytes} when their CPU workers' caches together exceed this machine's memory
   */
  static Map<Role, RoleSpec> roleSpecs(Config nodeConfig, Collection<Role> roles) {
    Map<Role, RoleSpec> out = new EnumMap<>(Role.class);
    for (Role r : roles) out.put(r, RoleSpec.fromConfig(nodeConfig, r));
    RoleSpec.requireKvCachesFitMemory(out);
    return out;
  }

  /**
   * A {@code gpuN} that this machine does not have is refused before any model loads (PyTorch
   * would fail on the first tensor, with a page of dispatcher text).
   *
   * @param givenBy the flag or config key that named {@code device}, as the message starts
   */
  static void requireDevice(String device, String givenBy) {
    java.util.regex.Matcher gpu = java.util.regex.Pattern.compile("gpu(\\d+)").matcher(device);
    if (device.equals("cpu")) return;
    // A remote engine serves a model on its own devices: on the command line it is a model flag's value.
    if (givenBy.equals("--device") && device.startsWith("openai:"))
      throw UsageError.of(givenBy, givenBy + " " + device + ": an engine spec is a model, not a device (the engine runs it"
          + " on its own): give it as --small or --large, e.g. --large '" + device + "'; --device is cpu or gpuN", null);
    if (!gpu.matches())
      throw UsageError.of(givenBy, givenBy + " " + device + ": not a device; give cpu, or gpu0, gpu1, ... for a GPU"
          + (givenBy.equals("--device") ? "" : ", or an engine spec openai:URL?model=NAME"), null);
    int count = ai.djl.util.cuda.CudaUtils.getGpuCount();
    if (Integer.parseInt(gpu.group(1)) >= count)
      throw new IllegalArgumentException(givenBy + " " + device + ": this machine has " + (count == 0 ? "no GPU CUDA can use"
          : count + " GPU" + (count == 1 ? " (gpu0)" : "s (gpu0 to gpu" + (count - 1) + ")")) + "; use --device cpu"
          + (count == 0 ? "" : " or one of those"));
    // The PyTorch library Tandem ships is pytorch-native-cpu, and DJL runs offline: on a machine with GPUs, a model placed
    // on one failed deep in the engine (tester49c). GPUs are reached through an engine (vLLM, SGLang) instead.
    if (!ai.djl.engine.Engine.getEngine("PyTorch").hasCapability(ai.djl.engine.StandardCapabilities.CUDA))
      throw new IllegalArgumentException(givenBy + " " + device + ": the PyTorch library Tandem runs with is its CPU build"
          + " (pytorch-native-cpu), which cannot place a model on a GPU; serve a GPU model through an engine instead, e.g."
          + " --large 'openai:http://HOST:8000/v1?model=NAME' for a vLLM server (README, \"Running on GPUs\"), or use --device cpu");
  }

  /**
   * A model that is neither {@code scripted:} nor {@code simulated:} is a checkpoint folder; a
   * missing one is the commonest typo, and is refused before any other model starts loading.
   */
  private static void requireFolderExists(String model, String givenBy) {
    if (io.tandem.worker.EngineSpec.isEngine(model)) {
      try {
        io.tandem.worker.EngineSpec.parse(model);
        return;
      } catch (IllegalArgumentException e) {
        // A spec written wrong is a mistake in what the command was given, as any other value's (tester45b: exit 1).
        throw UsageError.of(givenBy, givenBy + ": " + e.getMessage(), e);
      }
    }
    if (model.startsWith("scripted:") || model.startsWith("simulated:")) {
      // Its file, before any model starts loading: else the worker's ERROR line came before the command's own.
      String file = model.substring(model.indexOf(':') + 1).replaceFirst("\\?.*", "");
      String problem = file.isEmpty() ? "no file given" : Files.isDirectory(Path.of(file)) ? file + " is a folder, not a file"
          : Files.exists(Path.of(file)) ? null : "no such file " + file + fromWorkingFolder(Path.of(file));
      if (problem != null)
        throw new IllegalArgumentException(givenBy + " " + model + ": " + problem + "; give "
            + (model.startsWith("scripted:") ? "scripted:PATH" : "simulated:PATH?latency=PROFILE")
            + ", PATH a script {\"tokens\": [...]}");
      // Its tokens too, as a --case's are: a mistake in them is the command's (exit 2), said before a worker starts
      // (tester53e: an empty token was the worker's ERROR and exit 1; half an emoji went out as "?").
      try {
        io.tandem.inference.scripted.ScriptedModel.readTokens(Path.of(file));
      } catch (IllegalArgumentException e) {
        throw new UsageError(givenBy + " " + model + ": " + e.getMessage());
      }
      return;
    }
    // A server's URL, as a vLLM client takes one: an engine is reached through an openai: spec (tester50d).
    if (model.matches("(?i)https?://.*"))
      throw new IllegalArgumentException(givenBy + " " + model + ": a server's URL; a model served by vLLM, SGLang or another"
          + " Tandem is given as openai:URL?model=NAME, URL its API root (" + givenBy + " 'openai:" + apiRoot(model)
          + "?model=" + modelOf(model) + "', NAME one its /v1/models lists; README, \"Running on GPUs\")");
    Path dir = Path.of(model);
    if (!Files.isDirectory(dir))
      throw new IllegalArgumentException(givenBy + " " + model + ": " + notAFolder(dir) + "; give a Hugging Face checkpoint folder "
          + "(config.json, model.safetensors, tokenizer.json), openai:URL?model=NAME for a model an engine serves (vLLM),"
          + " scripted:PATH or simulated:PATH?latency=PROFILE, or leave it out for the demo pair");
    if (!Files.isReadable(dir) || !Files.isExecutable(dir))
      throw new IllegalArgumentException(givenBy + " " + model + ": cannot be read (no permission to list the folder or open"
          + " its files); give the user Tandem runs as read access to it (chmod a+rX)");
    List<String> missing = missingCheckpointFiles(dir);
    if (!missing.isEmpty())
      throw new IllegalArgumentException(givenBy + " " + model + ": not a checkpoint folder, it has no " + String.join(", no ", missing)
          + found(dir, missing) + "; a Hugging Face checkpoint folder holds config.json, tokenizer.json and model.safetensors (or "
          + "model.safetensors.index.json with its shards)" + checkpointsIn(dir));
    // Its config, weights' headers and tokenizer_config.json, before any model loads: the other role's model may take minutes.
    try {
      io.tandem.inference.hf.DecoderModel.check(dir);
      io.tandem.inference.text.HfTokenizer.checkConfig(dir);
      io.tandem.inference.text.HfTokenizer.checkIds(dir, io.tandem.inference.hf.HfConfig.load(dir).vocabSize());
    } catch (io.tandem.inference.hf.CheckpointException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  /**
   * What a folder that lacks {@code missing} holds instead, as a download gone wrong leaves it: a
   * link to a deleted file (a Hugging Face cache's blob), an unfinished download, GGUF or PyTorch
   * {@code .bin} weights, or a Hugging Face cache's repository folder, whose checkpoints are its
   * snapshots; empty when none of those.
   */
  static String found(Path dir, List<String> missing) {
    List<String> seen = new java.util.ArrayList<>();
    for (String f : missing)
      if (Files.isSymbolicLink(dir.resolve(f)))
        seen.add(f + " is a symbolic link to nothing (a Hugging Face cache whose file was deleted: download it again)");
    List<String> names = new java.util.ArrayList<>();
    try (java.util.stream.Stream<Path> children = Files.list(dir)) {
      children.forEach(c -> names.add(c.getFileName().toString()));
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      return seen.isEmpty() ? "" : " (" + String.join("; ", seen) + ")";
    }
    if (missing.contains("model.safetensors")) {
      if (names.stream().anyMatch(n -> n.endsWith(".incomplete")))
        seen.add("a download not finished (*.incomplete): let it finish, or run huggingface-cli download again");
      else if (names.stream().anyMatch(n -> n.endsWith(".gguf")))
        seen.add("GGUF weights, llama.cpp's, which Tandem does not read: give the model's safetensors checkpoint");
      else if (names.stream().anyMatch(n -> n.endsWith(".bin") || n.endsWith(".pt") || n.endsWith(".pth")))
        seen.add("PyTorch weights (.bin), which Tandem does not read: download the safetensors ones, or save the model with"
            + " transformers' save_pretrained(DIR, safe_serialization=True)");
    }
    if (names.contains("snapshots") && Files.isDirectory(dir.resolve("snapshots"))) {
      List<String> revisions = new java.util.ArrayList<>();
      try (java.util.stream.Stream<Path> snaps = Files.list(dir.resolve("snapshots"))) {
        snaps.filter(Files::isDirectory).sorted().forEach(c -> revisions.add(c.toString()));
      } catch (java.io.IOException | java.io.UncheckedIOException e) {
        // unreadable: the folder's name is hint enough
      }
      seen.add("a Hugging Face cache folder: its checkpoints are its snapshots" + (revisions.isEmpty() ? ""
          : ", " + String.join(", ", revisions.subList(0, Math.min(2, revisions.size()))) + (revisions.size() > 2 ? ", ..." : "")));
    }
    return seen.isEmpty() ? "" : " (" + String.join("; ", seen) + ")";
  }

  /**
   * What a model path that is no folder is: {@code no such folder}, or a file (say the checkpoint's
   * {@code config.json}) with the checkpoint folder that holds it when there is one.
   */
  /**
   * The API root of a server's URL as a client may give it: up to its {@code /v1}, without a query,
   * or with {@code /v1} added to a URL that has none ({@code http://h:8000/v1/chat/completions?x=1}
   * and {@code http://h:8000/} are both {@code http://h:8000/v1}).
   */
  static String apiRoot(String url) {
    String path = url.replaceFirst("[?#].*$", "").replaceFirst("/+$", "");
    java.util.regex.Matcher v1 = java.util.regex.Pattern.compile("^(.*?/v1)(/.*)?$").matcher(path);
    return v1.matches() ? v1.group(1) : path + "/v1";
  }

  /**
   * The checkpoint folders inside {@code dir}, a folder of checkpoints ({@code ops/demo} holds {@code
   * small/} and {@code large/}), as a message ends with them: {@code "; the checkpoint folders in it
   * are ops/demo/large, ops/demo/small"}; empty when it holds none (or cannot be listed).
   */
  static String checkpointsIn(Path dir) {
    List<String> inside = new java.util.ArrayList<>();
    try (java.util.stream.Stream<Path> children = Files.list(dir)) {
      children.filter(c -> Files.isDirectory(c) && missingCheckpointFiles(c).isEmpty()).sorted()
          .forEach(c -> inside.add(c.toString()));
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      return ""; // unreadable: nothing to point to
    }
    return inside.isEmpty() ? "" : "; the checkpoint folders in it are " + String.join(", ", inside.subList(0, Math.min(4,
        inside.size()))) + (inside.size() > 4 ? ", ..." : "");
  }

  /** The {@code model=} a server's URL names in its query, else {@code NAME}. */
  private static String modelOf(String url) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("[?&]model=([^&#]+)").matcher(url);
    return m.find() ? m.group(1) : "NAME";
  }

  /**
   * For a path that is not there: where a relative one was looked for (tester52b: a newcomer who
   * ran the command from another folder than they thought was told only "no such file"); nothing
   * for an absolute one.
   */
  static String fromWorkingFolder(Path path) {
    return path.isAbsolute() ? "" : " (a relative path is taken from the folder the command runs in, "
        + Path.of("").toAbsolutePath() + ")";
  }

  static String notAFolder(Path path) {
    // A Hub id (org/name), as vLLM takes one: Tandem runs offline and reads folders only.
    if (!Files.exists(path) && path.toString().matches("[A-Za-z0-9][\\w.-]*/[\\w.-]+"))
      return "no such folder" + fromWorkingFolder(path) + " (Tandem downloads nothing: if this is a Hugging Face Hub id,"
          + " download the checkpoint first, e.g. huggingface-cli download " + path + " --local-dir DIR, and give DIR)";
    // A ~ the shell did not expand (quoted, or in a config file) is a folder named ~.
    if (!Files.exists(path) && (path.toString().equals("~") || path.toString().startsWith("~/")))
      return "no such folder (~ is expanded by a shell only where it is not quoted, and never in a config file: give the"
          + " full path, " + System.getProperty("user.home") + path.toString().substring(1) + ")";
    if (!Files.exists(path)) return "no such folder" + fromWorkingFolder(path);
    Path parent = path.toAbsolutePath().getParent();
    boolean inCheckpoint = parent != null && missingCheckpointFiles(parent).isEmpty();
    return "is a file, not a checkpoint folder" + (inCheckpoint ? " (the checkpoint folder that holds it is "
        + (path.getParent() == null ? parent : path.getParent()) + ")" : "");
  }

  /**
   * The files a Hugging Face checkpoint folder needs that {@code dir} lacks: {@code config.json},
   * {@code tokenizer.json}, and the weights ({@code model.safetensors}, or a sharded checkpoint's
   * {@code model.safetensors.index.json}). Empty for a complete folder.
   */
  static List<String> missingCheckpointFiles(Path dir) {
    List<String> missing = new java.util.ArrayList<>();
    for (String f : List.of("config.json", "tokenizer.json"))
      if (!Files.isRegularFile(dir.resolve(f))) missing.add(f);
    if (!Files.isRegularFile(dir.resolve("model.safetensors")) && !Files.isRegularFile(dir.resolve("model.safetensors.index.json")))
      missing.add("model.safetensors");
    return missing;
  }

  /**
   * An output folder, created now (with its parents) so that a folder that cannot be made fails
   * before any model loads rather than after the run.
   *
   * @throws IllegalArgumentException naming {@code option} and why the folder cannot be made
   */
  static void requireOutputFolder(String option, Path dir) {
    if (Files.exists(dir) && !Files.isDirectory(dir))
      throw new IllegalArgumentException(option + " " + dir + ": is a file, not a folder; give a folder (it is created if missing)");
    makeFolder(option + " " + dir + ": cannot", dir);
  }

  /**
   * A file that a command writes when it ends: refused before any model loads when it is a folder
   * or its folder cannot be made.
   *
   * @throws IllegalArgumentException naming {@code option} and what is wrong with the path
   */
  static void requireOutputFile(String option, Path file) {
    if (Files.isDirectory(file))
      throw new IllegalArgumentException(option + " " + file + ": is a folder; give a file name");
    Path parent = file.toAbsolutePath().getParent();
    if (parent == null) return;
    makeFolder(option + " " + file + ": cannot", parent);
    // A folder the file system will not write in (/proc), said before the command's work, not after it.
    try {
      Files.delete(Files.createTempFile(parent, ".tandem-", ".probe"));
    } catch (java.io.IOException | SecurityException e) {
      throw new IllegalArgumentException(option + " " + file + ": cannot write in folder " + parent
          + " (the file system there does not allow it); give a place you can write to", e);
    }
  }

  /** Creates {@code dir} with its parents, or says "{@code what} create/write in folder DIR (why)". */
  private static void makeFolder(String what, Path dir) {
    if (Files.isDirectory(dir)) {
      if (!Files.isWritable(dir))
        throw new IllegalArgumentException(what + " write in folder " + dir + " (no permission); give a place you can write to");
      return;
    }
    // A file on the way would make createDirectories say only the path (FileAlreadyExistsException).
    for (Path p = dir.toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p)) break;
      if (Files.exists(p)) {
        throw new IllegalArgumentException(what + " create folder " + dir + " (" + (p.equals(dir.toAbsolutePath()) ? "it" : p)
            + " is a file, not a folder); give a place you can write to");
      }
    }
    try {
      Files.createDirectories(dir);
    } catch (java.nio.file.NoSuchFileException e) {
      // Missing parents are created: a folder that still "does not exist" is one the file system refuses (/proc).
      throw new IllegalArgumentException(what + " create folder " + dir + " (the file system there does not allow it); "
          + "give a place you can write to", e);
    } catch (java.nio.file.AccessDeniedException | SecurityException e) {
      throw new IllegalArgumentException(what + " create folder " + dir + " (no permission); give a place you can write to", e);
    } catch (java.io.IOException e) {
      String why = e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason() : Tandem.message(e);
      throw new IllegalArgumentException(what + " create folder " + dir + " (" + why + "); give a place you can write to", e);
    }
  }

  /**
   * The node's configuration: application.conf (or the file {@code -Dconfig.file}, {@code
   * -Dconfig.resource} or {@code -Dconfig.url} gives in its place) and reference.conf, under
   * -Dtandem.KEY=VALUE.
   *
   * @throws IllegalArgumentException for a file given in place of application.conf that cannot be
   *     read, does not parse, or leaves out Tandem's application.conf ({@link OwnConfigFile})
   * @throws io.tandem.protocol.config.InvalidConfigException for a {@code tandem.*} key that no
   *     default configuration defines (a misspelt one would be ignored); an {@code akka.*} key that is
   *     a small misspelling of one Akka defines is a WARN ({@link
   *     io.tandem.protocol.config.KnownKeys#nearMisses}), as Akka's settings are its own
   */
  static Config baseConfig() {
    OwnConfigFile own = OwnConfigFile.given();
    if (own != null) {
      own.requireReadable();
    }
    Config config;
    try {
      config = ConfigFactory.load();
    } catch (com.typesafe.config.ConfigException.Parse e) {
      if (own == null) throw e;
      throw notHocon(own.option(), e, "give a HOCON file that begins with include classpath(\"application.conf\")");
    } catch (com.typesafe.config.ConfigException e) {
      // What else Typesafe Config says of the file: a URL that does not answer (its BugOrBroken), a file gone since.
      if (own == null) throw e;
      throw own.unreadable(e);
    }
    if (own != null) {
      own.requireApplicationConf(config);
      own.requireOwnSettingsKept(config);
    }
    io.tandem.protocol.config.KnownKeys.check(config);
    if (own != null) requireOneListOfKeys(own);
    if (!akkaNearMissesSaid) {
      akkaNearMissesSaid = true;
      for (String miss : io.tandem.protocol.config.KnownKeys.nearMisses(config, "akka"))
        LoggerFactory.getLogger(ModelOptions.class).warn("{}: Akka reads only the settings it defines, so this one has no effect",
            miss);
    }
    return config;
  }

  /** Whether {@link #baseConfig} has warned of misspelt Akka settings: once a process, as commands read it more than once. */
  private static volatile boolean akkaNearMissesSaid;

  /**
   * Refuses {@code -Dtandem.http.api-keys.N.*} options beside a config file that lists keys: the
   * options make an object, which replaces the file's list whole (Typesafe Config's rule), so the
   * file's keys would answer 401 without a word (tester43c: one option dropped them all, and one
   * that meant to change an entry's limit read as an entry without its key).
   */
  private static void requireOneListOfKeys(OwnConfigFile own) {
    String prefix = "tandem.http.api-keys.";
    java.util.List<String> options = System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith(prefix))
        .sorted().toList();
    if (options.isEmpty()) return;
    Config app = ConfigFactory.defaultApplication();
    if (!app.hasPath("tandem.http.api-keys") || app.getValue("tandem.http.api-keys").valueType()
        != com.typesafe.config.ConfigValueType.LIST || app.getList("tandem.http.api-keys").isEmpty()) return;
    throw io.tandem.protocol.config.InvalidConfigException.setting("tandem.http.api-keys", "-D" + options.get(0) + " and "
        + own.option() + ", which lists API keys too: options give the list entry by entry and replace the file's whole"
        + " list (Typesafe Config's rule), so its keys would stop working; give every key in one place (the file, or"
        + " -Dtandem.http.api-keys.N options alone), or add keys with --api-keys FILE", null);
  }

  /**
   * A HOCON/JSON file that does not parse, in one line: the file and line, what the parser found,
   * and what to give. (The parser names its input "String: LINE" when handed the text: the file and
   * the line are what the user can find.)
   *
   * @param what how the file was given, as the message starts ({@code --api-keys FILE})
   * @param expected what to give instead, as the message ends ("give a ...")
   */
  static IllegalArgumentException notHocon(String what, com.typesafe.config.ConfigException.Parse e, String expected) {
    int line = e.origin() == null ? -1 : e.origin().lineNumber();
    // At the end of a file that leaves a brace open, Typesafe Config may say it expected a ')' (tester46b: after an
    // include line, the only parentheses in the file): the brace is what to look for.
    String unclosed = e.getMessage() != null && e.getMessage().contains("end of file") && e.origin() != null
        && e.origin().filename() != null ? unclosedBracket(Path.of(e.origin().filename())) : null;
    if (unclosed != null) {
      String[] lineAndBracket = unclosed.split(" ");
      String close = lineAndBracket[1].equals("{") ? "}" : "]";
      return new IllegalArgumentException(what + " line " + lineAndBracket[0] + ": not HOCON/JSON (its " + lineAndBracket[1]
          + " is not closed: the file ends before a " + close + " for it); " + expected, e);
    }
    // The parser quotes what it read, which may be a key pasted on a line of its own (tester51f): not repeated.
    return new IllegalArgumentException(what + (line < 0 ? "" : " line " + line) + ": not HOCON/JSON ("
        + io.tandem.protocol.text.Secrets.redact(io.tandem.protocol.config.ConfigSection.describe("", e)) + "); " + expected, e);
  }

  /**
   * The last '{' or '[' of {@code file} left open at its end, outside quoted strings and comments
   * ({@code #}, {@code //}), as its line and the bracket ({@code "3 ["}); null when every one is
   * closed or the file cannot be read.
   */
  static String unclosedBracket(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (java.io.IOException | java.io.UncheckedIOException e) {
      return null;
    }
    java.util.ArrayDeque<String> open = new java.util.ArrayDeque<>();
    int line = 1;
    boolean quoted = false, comment = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\n') {
        line++;
        comment = false;
        quoted = false;
      } else if (comment) {
        continue;
      } else if (quoted) {
        if (c == '\\') i++;
        else if (c == '"') quoted = false;
      } else if (c == '"') {
        quoted = true;
      } else if (c == '#' || (c == '/' && i + 1 < text.length() && text.charAt(i + 1) == '/')) {
        comment = true;
      } else if (c == '{' || c == '[') {
        open.push(line + " " + c);
      } else if ((c == '}' || c == ']') && !open.isEmpty()) {
        open.pop();
      }
    }
    return open.peek();
  }
}
