package io.tandem.inference.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.inference.hf.safetensors.Dtype;
import io.tandem.inference.hf.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * Writes a random-weight Qwen2.5-shaped checkpoint in exact Hugging Face layout (config.json,
 * generation_config.json, bf16 safetensors, sharded past a size, the tokenizer files), so
 * benchmarks and demos run on real shapes without downloading weights.
 */
public final class CheckpointMaker {

  /** The shapes it can make; the Qwen2.5 ones carry the published config values. */
  public enum ModelShape {
    TINY("tiny", 64, 256, 2, 4, 2),
    QWEN2_5_0_5B("qwen2.5-0.5b", 896, 4864, 24, 14, 2),
    QWEN2_5_1_5B("qwen2.5-1.5b", 1536, 8960, 28, 12, 2);

    final String id;
    final int hidden;
    final int intermediate;
    final int layers;
    final int heads;
    final int kvHeads;

    ModelShape(String id, int hidden, int intermediate, int layers, int heads, int kvHeads) {
      this.id = id;
      this.hidden = hidden;
      this.intermediate = intermediate;
      this.layers = layers;
      this.heads = heads;
      this.kvHeads = kvHeads;
    }

    public String id() {
      return id;
    }

    public static ModelShape parse(String id) {
      for (ModelShape s : values()) {
        if (s.id.equals(id.toLowerCase(Locale.ROOT))) {
          return s;
        }
      }
      throw new IllegalArgumentException("unknown shape " + id + " (tiny, qwen2.5-0.5b, qwen2.5-1.5b)");
    }
  }

  /** Qwen's tokenizer has 151,665 ids; Qwen2.5 up to 3B pads the embedding to 151,936 rows. */
  public static final int QWEN_VOCAB_SIZE = 151936;

  /** Hugging Face's default {@code max_shard_size} (5 GB). */
  public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

  private static final double WEIGHT_STD = 0.02; // HF's initializer_range for Qwen2
  /** {@code bos_token_id} and {@code pad_token_id} of the config written: Qwen's {@code <|endoftext|>}. */
  public static final int BOS_AND_PAD = 151643;

  /** {@code eos_token_id} of the config written: Qwen's {@code <|im_end|>}. */
  public static final int IM_END = 151645;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private CheckpointMaker() {}

  /** Writes the checkpoint with HF's default shard size; returns the number of parameters. */
  public static long make(ModelShape shape, Path out, long seed, Path tokenizerDir) throws IOException {
    return make(shape, out, seed, tokenizerDir, DEFAULT_MAX_SHARD_BYTES);
  }

  /**
   * Writes {@code out/} (created if absent). Same shape and seed give byte-identical files. Over a
   * checkpoint already there, its weight files (a single file, or shards and their index) and the
   * tokenizer files this one does not have are removed first, so the folder holds this checkpoint alone;
   * its config.json is written last, so that a write cut short leaves no checkpoint.
   *
   * @param tokenizerDir a folder with {@code tokenizer.json} and {@code tokenizer_config.json}
   * @param maxShardBytes above this many bytes of weights, shards plus an index are written
   * @return the number of parameters written
   */
  public static long make(ModelShape shape, Path out, long seed, Path tokenizerDir, long maxShardBytes)
      throws IOException {
    for (String required : List.of("tokenizer.json", "tokenizer_config.json")) {
      if (!Files.isRegularFile(tokenizerDir.resolve(required))) {
        throw new IOException("no " + required + " in tokenizer folder " + tokenizerDir);
      }
    }
    Files.createDirectories(out);
    // config.json makes the folder a checkpoint: gone first and written last, so that a write cut short (Ctrl-C) leaves
    // a folder that is not one, rather than a checkpoint whose weights end early (tester46c).
    Files.deleteIfExists(out.resolve("config.json"));
    removePreviousWeights(out);
    writeGenerationConfig(out.resolve("generation_config.json"));
    for (String f : List.of("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "LICENSE.npm-package")) {
      if (Files.isRegularFile(tokenizerDir.resolve(f))) {
        Files.copy(tokenizerDir.resolve(f), out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
      } else {
        // A file of the tokenizer written before (its chat template, its licence) is not this one's.
        Files.deleteIfExists(out.resolve(f));
      }
    }
    List<SafetensorsWriter.Entry> entries = entries(shape, new SplittableRandom(seed));
    long params = entries.stream().mapToLong(SafetensorsWriter.Entry::numel).sum();
    writeWeights(entries, out, maxShardBytes);
    writeConfig(shape, out.resolve("config.json"));
    return params;
  }

  /**
   * Every tensor of a tied Qwen2 decoder in name order. Each draws from its own generator split
   * off in that order, so the values do not depend on how the files are sharded.
   */
  private static List<SafetensorsWriter.Entry> entries(ModelShape s, SplittableRandom root) {
    int hd = s.hidden / s.heads;
    Map<String, long[]> shapes = new TreeMap<>();
    shapes.put("model.embed_tokens.weight", new long[] {QWEN_VOCAB_SIZE, s.hidden});
    shapes.put("model.norm.weight", new long[] {s.hidden});
    for (int l = 0; l < s.layers; l++) {
      String p = "model.layers." + l + ".";
      shapes.put(p + "input_layernorm.weight", new long[] {s.hidden});
      shapes.put(p + "post_attention_layernorm.weight", new long[] {s.hidden});
      shapes.put(p + "self_attn.q_proj.weight", new long[] {(long) s.heads * hd, s.hidden});
      shapes.put(p + "self_attn.q_proj.bias", new long[] {(long) s.heads * hd});
      shapes.put(p + "self_attn.k_proj.weight", new long[] {(long) s.kvHeads * hd, s.hidden});
      shapes.put(p + "self_attn.k_proj.bias", new long[] {(long) s.kvHeads * hd});
      shapes.put(p + "self_attn.v_proj.weight", new long[] {(long) s.kvHeads * hd, s.hidden});
      shapes.put(p + "self_attn.v_proj.bias", new long[] {(long) s.kvHeads * hd});
      shapes.put(p + "self_attn.o_proj.weight", new long[] {s.hidden, (long) s.heads * hd});
      shapes.put(p + "mlp.gate_proj.weight", new long[] {s.intermediate, s.hidden});
      shapes.put(p + "mlp.up_proj.weight", new long[] {s.intermediate, s.hidden});
      shapes.put(p + "mlp.down_proj.weight", new long[] {s.hidden, s.intermediate});
    }
    List<SafetensorsWriter.Entry> entries = new ArrayList<>();
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      SplittableRandom rng = root.split();
      boolean norm = e.getKey().endsWith("norm.weight");
      SafetensorsWriter.FloatSource source =
          norm
              ? (chunk, n) -> java.util.Arrays.fill(chunk, 0, n, 1.0f) // RMSNorm weights start at 1
              : (chunk, n) -> {
                for (int i = 0; i < n; i++) {
                  chunk[i] = (float) (rng.nextGaussian() * WEIGHT_STD);
                }
              };
      entries.add(new SafetensorsWriter.Entry(e.getKey(), Dtype.BF16, e.getValue(), source));
    }
    return entries;
  }

  /**
   * Deletes the weight files of a checkpoint written into {@code out} before ({@code model.safetensors},
   * its shards and their index): a loader reads the index first, so shards left from a sharded
   * checkpoint would stand for the new single file.
   */
  private static void removePreviousWeights(Path out) throws IOException {
    try (java.util.stream.Stream<Path> files = Files.list(out)) {
      for (Path f : files.toList()) {
        String name = f.getFileName().toString();
        if (name.equals("model.safetensors.index.json") || name.matches("model(-\\d+-of-\\d+)?\\.safetensors"))
          Files.delete(f);
      }
    }
  }

  private static void writeWeights(List<SafetensorsWriter.Entry> entries, Path out, long maxShardBytes)
      throws IOException {
    long total = SafetensorsWriter.dataBytes(entries);
    if (total <= maxShardBytes) {
      SafetensorsWriter.write(out.resolve("model.safetensors"), entries);
      return;
    }
    // Greedy split in name order, as save_pretrained does; a tensor bigger than a shard gets its own.
    List<List<SafetensorsWriter.Entry>> shards = new ArrayList<>();
    List<SafetensorsWriter.Entry> current = new ArrayList<>();
    long size = 0;
    for (SafetensorsWriter.Entry e : entries) {
      if (!current.isEmpty() && size + e.byteLength() > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        size = 0;
      }
      current.add(e);
      size += e.byteLength();
    }
    shards.add(current);
    Map<String, String> weightMap = new LinkedHashMap<>();
    long params = 0;
    for (int i = 0; i < shards.size(); i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      SafetensorsWriter.write(out.resolve(name), shards.get(i));
      for (SafetensorsWriter.Entry e : shards.get(i)) {
        weightMap.put(e.name(), name);
        params += e.numel();
      }
    }
    SafetensorsWriter.writeIndex(out.resolve("model.safetensors.index.json"), total, params, weightMap);
  }

  private static void writeConfig(ModelShape s, Path file) throws IOException {
    // Keys and values as in Qwen/Qwen2.5-*-Instruct's config.json (sorted, as HF writes them).
    ObjectNode c = JSON.createObjectNode();
    c.putArray("architectures").add("Qwen2ForCausalLM");
    c.put("attention_dropout", 0.0);
    c.put("bos_token_id", BOS_AND_PAD);
    c.put("eos_token_id", IM_END);
    c.put("hidden_act", "silu");
    c.put("hidden_size", s.hidden);
    c.put("initializer_range", WEIGHT_STD);
    c.put("intermediate_size", s.intermediate);
    c.put("max_position_embeddings", 32768);
    c.put("max_window_layers", s == ModelShape.QWEN2_5_1_5B ? 21 : s.layers);
    c.put("model_type", "qwen2");
    c.put("num_attention_heads", s.heads);
    c.put("num_hidden_layers", s.layers);
    c.put("num_key_value_heads", s.kvHeads);
    c.put("rms_norm_eps", 1e-6);
    c.putNull("rope_scaling");
    c.put("rope_theta", 1000000.0);
    c.put("sliding_window", 32768);
    c.put("tie_word_embeddings", true);
    c.put("torch_dtype", "bfloat16");
    c.put("transformers_version", "4.43.1");
    c.put("use_cache", true);
    c.put("use_sliding_window", false);
    c.put("vocab_size", QWEN_VOCAB_SIZE);
    JSON.writeValue(file.toFile(), c);
  }

  private static void writeGenerationConfig(Path file) throws IOException {
    // Qwen2.5-Instruct's generation_config.json.
    ObjectNode g = JSON.createObjectNode();
    g.put("bos_token_id", BOS_AND_PAD);
    g.put("do_sample", true);
    g.putArray("eos_token_id").add(IM_END).add(BOS_AND_PAD);
    g.put("pad_token_id", BOS_AND_PAD);
    g.put("repetition_penalty", 1.05);
    g.put("temperature", 0.7);
    g.put("top_k", 20);
    g.put("top_p", 0.8);
    g.put("transformers_version", "4.43.1");
    JSON.writeValue(file.toFile(), g);
  }
}
