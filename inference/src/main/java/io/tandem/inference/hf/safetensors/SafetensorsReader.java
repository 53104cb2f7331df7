package io.tandem.inference.hf.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.inference.hf.CheckpointException;
import io.tandem.protocol.text.Clipped;
import io.tandem.protocol.text.JsonSyntax;
import io.tandem.protocol.text.Plural;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.MappedByteBuffer;
import java.nio.ShortBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads the tensors of a Hugging Face checkpoint folder: {@code model.safetensors}, or the shards
 * listed by {@code model.safetensors.index.json}. Tensors are memory-mapped one at a time and
 * widened to float32, so files and tensors past 2 GiB are fine.
 */
public final class SafetensorsReader implements AutoCloseable {

  /** A mapping may not exceed Integer.MAX_VALUE bytes; map big tensors in slices of this size. */
  private static final long MAP_SLICE_BYTES = 1L << 30;

  /** Strict as Python's json.load, which transformers reads these files with: what follows the value is refused. */
  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private final Path dir;
  private final Map<String, TensorInfo> tensors;
  private final Map<Path, FileChannel> channels = new HashMap<>();

  private SafetensorsReader(Path dir, Map<String, TensorInfo> tensors) {
    this.dir = dir;
    this.tensors = tensors;
  }

  /** Opens the checkpoint in a folder, reading every header (not the data). */
  public static SafetensorsReader open(Path dir) {
    Path single = dir.resolve("model.safetensors");
    Path index = dir.resolve("model.safetensors.index.json");
    Map<String, TensorInfo> tensors = new TreeMap<>();
    // As transformers' from_pretrained looks: model.safetensors first, the index only without it.
    if (Files.isRegularFile(single)) {
      tensors.putAll(readHeader(single));
    } else if (Files.isRegularFile(index)) {
      Map<String, String> weightMap = readWeightMap(index);
      Map<String, Map<String, TensorInfo>> byFile = new LinkedHashMap<>();
      for (String file : new java.util.TreeSet<>(weightMap.values())) {
        Path shard = dir.resolve(file);
        if (!Files.isRegularFile(shard)) {
          throw new CheckpointException(index + " lists " + Clipped.of(file) + ", which is not in " + dir
              + "; download every shard the index lists into that folder");
        }
        byFile.put(file, readHeader(shard));
      }
      for (Map.Entry<String, String> e : weightMap.entrySet()) {
        TensorInfo info = byFile.get(e.getValue()).get(e.getKey());
        if (info == null) {
          throw new CheckpointException(index + " maps " + Clipped.of(e.getKey()) + " to " + Clipped.of(e.getValue())
              + ", which has no such tensor: the index and its shards do not belong together; download them again together");
        }
        tensors.put(e.getKey(), info);
      }
    } else {
      throw new CheckpointException(
          "no model.safetensors or model.safetensors.index.json in " + dir + " (only safetensors checkpoints are supported)");
    }
    return new SafetensorsReader(dir, Collections.unmodifiableMap(tensors));
  }

  /** The folder this checkpoint was read from. */
  public Path dir() {
    return dir;
  }

  /** Every tensor name, sorted. */
  public Set<String> names() {
    return tensors.keySet();
  }

  public boolean contains(String name) {
    return tensors.containsKey(name);
  }

  /** The header entry of a tensor; fails naming the folder when the tensor is absent. */
  public TensorInfo info(String name) {
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new CheckpointException("the weights in " + dir + " have no tensor " + name + ", which the model that"
          + " config.json describes needs; download the checkpoint again, or check that config.json belongs to these weights");
    }
    return info;
  }

  /** Reads a tensor as float32 (small tensors only: the result is one Java array). */
  public float[] readFloats(String name) {
    TensorInfo info = info(name);
    float[] out = new float[Math.toIntExact(info.numel())];
    readFloat32(name, FloatBuffer.wrap(out));
    return out;
  }

  /**
   * Writes a tensor's values, widened to float32, into {@code dest} at its position (which
   * advances by the element count).
   */
  public void readFloat32(String name, FloatBuffer dest) {
    readFloat32(name, 0, info(name).numel(), dest);
  }

  /** The names of the tensors read so far (any part of them). */
  private final Set<String> read = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** The tensors not read so far, sorted: after a model's load, those its architecture has no use for. */
  public java.util.SortedSet<String> unread() {
    java.util.SortedSet<String> unread = new java.util.TreeSet<>(tensors.keySet());
    unread.removeAll(read);
    return unread;
  }

  /** Like {@link #readFloat32(String, FloatBuffer)} for elements {@code [first, first + count)} only. */
  public void readFloat32(String name, long first, long count, FloatBuffer dest) {
    TensorInfo info = info(name);
    read.add(name);
    if (first < 0 || count < 0 || first + count > info.numel()) {
      throw new IllegalArgumentException("range outside " + name + " " + info.shapeString());
    }
    if (dest.remaining() < count) {
      throw new IllegalArgumentException("destination too small for " + name + " " + info.shapeString());
    }
    FileChannel ch = channel(info.file());
    long elemBytes = info.dtype().bytes();
    long sliceElems = MAP_SLICE_BYTES / elemBytes;
    float[] chunk = new float[1 << 16];
    short[] raw = new short[1 << 16];
    for (long start = first; start < first + count; start += sliceElems) {
      long n = Math.min(sliceElems, first + count - start);
      MappedByteBuffer map;
      try {
        map = ch.map(FileChannel.MapMode.READ_ONLY, info.offset() + start * elemBytes, n * elemBytes);
      } catch (IOException e) {
        throw new CheckpointException(info.file() + ": cannot map tensor " + name + " (" + e.getMessage() + ")", e);
      }
      map.order(ByteOrder.LITTLE_ENDIAN);
      switch (info.dtype()) {
        case F32 -> dest.put(map.asFloatBuffer());
        case BF16, F16 -> {
          ShortBuffer src = map.asShortBuffer();
          boolean bf16 = info.dtype() == Dtype.BF16;
          while (src.hasRemaining()) {
            int k = Math.min(raw.length, src.remaining());
            src.get(raw, 0, k);
            for (int i = 0; i < k; i++) {
              chunk[i] = bf16 ? Dtype.bf16ToFloat(raw[i]) : Dtype.f16ToFloat(raw[i]);
            }
            dest.put(chunk, 0, k);
          }
        }
      }
    }
  }

  private FileChannel channel(Path file) {
    return channels.computeIfAbsent(
        file,
        f -> {
          try {
            return FileChannel.open(f, StandardOpenOption.READ);
          } catch (IOException e) {
            throw new CheckpointException(f + ": cannot open (" + e.getMessage() + ")", e);
          }
        });
  }

  @Override
  public void close() {
    for (FileChannel ch : channels.values()) {
      try {
        ch.close();
      } catch (IOException ignored) {
        // Read-only channels: nothing is lost if closing fails.
      }
    }
    channels.clear();
  }

  private static Map<String, String> readWeightMap(Path index) {
    JsonNode root;
    try {
      root = io.tandem.inference.text.JsonFault.readObject(JSON, index, "{\"weight_map\": {...}}");
    } catch (io.tandem.inference.text.JsonFault.NotJson e) {
      throw new CheckpointException(e.getMessage(), e);
    } catch (IOException e) {
      throw new CheckpointException(index + ": cannot read JSON (" + CheckpointException.why(e) + ")", e);
    }
    JsonNode wm = root.path("weight_map");
    if (!wm.isObject()) {
      throw new CheckpointException(index + ": no \"weight_map\" object, which names each tensor's file; copy or download it"
          + " again");
    }
    if (wm.isEmpty())
      throw new CheckpointException(index + ": its \"weight_map\" is empty, so it names no weights; copy or download it again");
    Map<String, String> out = new TreeMap<>();
    wm.fields().forEachRemaining(e -> {
      if (!e.getValue().isTextual())
        throw new CheckpointException(index + ": its \"weight_map\" maps " + Clipped.of(e.getKey()) + " to " + Clipped.json(
            e.getValue()) + ", not to a file name; copy or download it again");
      out.put(e.getKey(), e.getValue().asText());
    });
    return out;
  }

  /**
   * Refuses tensors whose bytes overlap or leave gaps, and bytes after the last: the format lays
   * them end to end from the data's start to the file's end, as the safetensors crate's {@code
   * Metadata::validate} and its check of the buffer's length require (two tensors over the same
   * bytes read each other's weights).
   */
  private static void requireEndToEnd(Path file, java.util.Collection<TensorInfo> tensors, long dataStart, long size) {
    List<TensorInfo> byOffset = new java.util.ArrayList<>(tensors);
    byOffset.sort(java.util.Comparator.comparingLong(TensorInfo::offset));
    long next = dataStart;
    TensorInfo before = null;
    for (TensorInfo t : byOffset) {
      if (t.offset() != next)
        throw new CheckpointException(file + ": tensor " + t.name() + "'s data_offsets begin at " + (t.offset() - dataStart)
            + (before == null ? ", not at 0 where the first tensor's do" : t.offset() < next ? ", inside tensor " + before.name()
                + "'s bytes (which end at " + (next - dataStart) + ")" : ", past the end of tensor " + before.name() + "'s ("
                + (next - dataStart) + "), leaving a gap") + ": safetensors lays tensors end to end; copy or download it again");
      next = t.offset() + t.byteLength();
      before = t;
    }
    if (next != size)
      throw new CheckpointException(file + ": " + Plural.count(size - next, "byte") + " after its last tensor's data ("
          + before.name()
          + "), which no tensor covers: safetensors ends a file with its last tensor; copy or download it again");
  }

  /** Whether {@code n} is an array of whole numbers from 0 that fit a long (a shape, or data offsets). */
  private static boolean naturals(JsonNode n) {
    if (!n.isArray()) return false;
    for (JsonNode v : n) if (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0) return false;
    return true;
  }

  /** Parses one file's header: u64 little-endian length, then JSON; offsets are relative to the data start. */
  static Map<String, TensorInfo> readHeader(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      if (ch.read(lenBuf, 0) != 8) {
        throw new CheckpointException(file + ": too short to be a safetensors file");
      }
      long headerLen = lenBuf.getLong(0);
      String text = new String(lenBuf.array(), StandardCharsets.ISO_8859_1);
      // What a download gone wrong leaves in a weights file's place: a Git LFS pointer (a clone without
      // git-lfs), or a web page (the Hub's file page, a login page), both text where the length belongs.
      if (text.startsWith("version "))
        throw new CheckpointException(file + ": a Git LFS pointer (" + size + " bytes of text), not the weights: the folder was"
            + " cloned without Git LFS; run git lfs pull in it, or download the model with huggingface-cli download");
      if (text.stripLeading().startsWith("<"))
        throw new CheckpointException(file + ": a web page (HTML), not the weights: the link saved was a page's, not the"
            + " file's; download the model with huggingface-cli download (or the file's \"resolve\" link)");
      if (headerLen > 0 && headerLen <= 100_000_000L && 8 + headerLen > size) {
        throw new CheckpointException(file + ": cut short: its header says " + headerLen + " bytes of JSON but the file has "
            + (size - 8) + " after the length; copy or download it again");
      }
      if (headerLen <= 0 || headerLen > 100_000_000L) {
        throw new CheckpointException(file + ": not a safetensors file (its first 8 bytes, the header's length, read "
            + Long.toUnsignedString(headerLen) + "); copy or download it again");
      }
      ByteBuffer header = ByteBuffer.allocate((int) headerLen);
      while (header.hasRemaining()) {
        if (ch.read(header, 8 + header.position()) < 0) {
          throw new CheckpointException(file + ": cut short inside its header; copy or download it again");
        }
      }
      // The header is UTF-8 JSON, as the safetensors crate reads it (std::str::from_utf8, then serde_json).
      String headerText;
      try {
        headerText = StandardCharsets.UTF_8.newDecoder().decode(header.flip()).toString();
      } catch (java.nio.charset.CharacterCodingException e) {
        throw new CheckpointException(file + ": its header is not UTF-8 text, so not a safetensors header; copy or download"
            + " it again", e);
      }
      JsonNode root;
      try {
        root = JSON.readTree(headerText);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new CheckpointException(file + ": its header is not valid JSON" + JsonSyntax.of(e, headerText, "header")
            + "; copy or download it again", e);
      }
      // As the safetensors crate reads it: an object of tensor entries (and "__metadata__"), each
      // {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}.
      if (!root.isObject())
        throw new CheckpointException(file + ": its header is not a JSON object of tensors (found " + (root.isMissingNode()
            ? "only spaces" : Clipped.json(root)) + "); copy or download it again");
      long dataStart = 8 + headerLen;
      Map<String, TensorInfo> out = new TreeMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().equals("__metadata__")) {
          // The crate reads it as a map of strings to strings, or null (none), and refuses any other.
          boolean strings = e.getValue().isObject() || e.getValue().isNull();
          for (JsonNode v : e.getValue()) strings &= v.isTextual();
          if (!strings)
            throw new CheckpointException(file + ": its header's \"__metadata__\" is not an object of strings (found "
                + Clipped.json(e.getValue()) + "); copy or download it again");
          continue;
        }
        JsonNode t = e.getValue();
        JsonNode shapeNode = t.path("shape");
        JsonNode offsets = t.path("data_offsets");
        String wrong = !t.isObject() ? "is not {\"dtype\": ..., \"shape\": [...], \"data_offsets\": [begin, end]} (found "
            + Clipped.json(t) + ")"
            : !t.path("dtype").isTextual() ? "has no \"dtype\" string (found " + Clipped.json(t.get("dtype")) + ")"
            : !naturals(shapeNode) ? "has no \"shape\" of whole numbers from 0 (found " + Clipped.json(t.get("shape")) + ")"
            : !naturals(offsets) || offsets.size() != 2 ? "has no \"data_offsets\" [begin, end] of whole numbers from 0 (found "
                + Clipped.json(t.get("data_offsets")) + ")"
            : null;
        if (wrong != null)
          throw new CheckpointException(file + ": its header's entry for tensor " + Clipped.of(e.getKey()) + " " + wrong
              + "; copy or download it again");
        String dtypeName = t.path("dtype").asText();
        Dtype dtype;
        try {
          dtype = Dtype.valueOf(dtypeName);
        } catch (IllegalArgumentException ex) {
          throw new CheckpointException(
              file + ": tensor " + e.getKey() + " has unsupported dtype " + dtypeName + " (supported: F32, F16, BF16)");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
          shape[i] = shapeNode.get(i).asLong();
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        TensorInfo info = new TensorInfo(e.getKey(), dtype, shape, file, dataStart + begin, end - begin);
        if (dataStart + end > size && info.numel() * dtype.bytes() == end - begin) {
          // The header is whole, the data is not: a copy or download that stopped.
          throw new CheckpointException(file + ": cut short: tensor " + e.getKey() + " ends at byte " + (dataStart + end)
              + " but the file has " + size + "; copy or download it again");
        }
        if (info.numel() * dtype.bytes() != end - begin) {
          throw new CheckpointException(file + ": tensor " + e.getKey() + "'s data_offsets [" + begin + ", " + end + ") hold "
              + (end - begin) + " bytes, but its shape " + info.shapeString() + " in " + dtype + " takes " + info.numel()
              * dtype.bytes() + "; copy or download it again");
        }
        out.put(e.getKey(), info);
      }
      if (out.isEmpty())
        throw new CheckpointException(file + ": its header lists no tensors, so it holds no weights; copy or download it again");
      requireEndToEnd(file, out.values(), dataStart, size);
      return out;
    } catch (IOException e) {
      throw new CheckpointException(file + ": cannot read (" + CheckpointException.why(e) + ")", e);
    }
  }
}
