package io.tandem.inference.hf;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import java.util.ArrayList;
import java.util.List;

/**
 * A whole decode step of a batch of single-token sequences as one TorchScript call: the embedding,
 * every decoder layer ({@link DecoderStack#layer}'s math, op for op; the new keys and values stored
 * in the {@link KvPool} with one indexed write, the caches read as a view of it, fused attention), the final norm and the lm_head. Through DJL's JNI the
 * same step is about 40 calls per layer, each with its Java array bookkeeping; for the demo's
 * 4-layer large model that overhead was most of a step (2.2 ms for one sequence, of which the
 * arithmetic is a few hundred microseconds). For plain matrices (float32, or float16 on a GPU),
 * FBGEMM's packed float16 ones and oneDNN's packed float32 ones alike. A batch with prefills runs
 * in another call, its decodes with them ({@link #mixedLogits}); a probe, and logits at every
 * position, keep the per-op path.
 *
 * <p>The weights are handed to libtorch once, as lists, and reused by every step.
 */
final class DecodeStep implements AutoCloseable {

  /** The packed float16 weight's TorchScript type ({@link Fbgemm}). */
  private static final String PACKED = "__torch__.torch.classes.quantized.LinearPackedParamsBase";

  /**
   * One step, written once for both kinds of matrices (as {@link #MIXED} and {@link #LAYER} are):
   * {@code LIN} is their list's element type, {@code QKV} the fused q/k/v projection and
   * {@code LINEAR} every other. {@code norms} holds per
   * layer input_layernorm, q/k_norm, post_attention_layernorm and the q/k/v bias ({@code norms[4l..4l+3]});
   * {@code lin} per layer qkv, o, gate_up and down ({@code lin[4l..4l+3]}), then the lm_head.
   */
  private static final String STEP = """
      def step(self: __torch__.KIND, ids: Tensor, embed: Tensor, cos: Tensor, sin: Tensor, rot: Tensor,
          mask: Tensor, norms: List[Tensor], lin: List[LIN], pools: List[Tensor], rows: Tensor, positions: Tensor,
          first: int, order: Tensor, unorder: Tensor, permuted: bool, slots: int, heads: int, kv_heads: int,
          head_dim: int, inter: int, eps: float, scaling: float, qkv_bias: bool, qk_norm: bool,
          final_norm: Tensor) -> Tensor:
        x = torch.embedding(embed, ids).to(cos.dtype)
        attn_mask = mask.to(x.dtype)
        layers = len(norms) // 4
        for l in range(layers):
          qk, v = self.qk_v(x, l, norms, lin, cos, sin, rot, heads, kv_heads, head_dim, eps, qkv_bias, qk_norm)
          o = self.decodes(qk, v, pools[l], rows, positions, first, order, unorder, permuted, attn_mask, slots,
              heads, kv_heads, head_dim, scaling)
          x = self.o_mlp(x, o, l, norms, lin, inter, eps)
        return LINEAR(self.rms(x, final_norm, eps), lin[4 * layers])
      """;

  /**
   * A pass of sequences that each bring any number of new tokens (prefills, chunks of them, a
   * one-token prompt), then, in the same pass, a batch of single-token decodes (none where {@code
   * drows} is empty), as vLLM's chunked prefill schedules prompt chunks beside decodes in one
   * forward pass: the matrices over every row at once; attention per prefilling sequence over its
   * pool row (the new keys and values stored first, then causal attention of its queries over
   * {@code [0, past + count)}, the mask offset by what was cached), and for the decodes as {@link
   * #STEP} does (one indexed store, a view of the pool rows {@code [first, first + decodes)}); the
   * logits at each sequence's last row only. The last layer reads only those rows past its keys and
   * values: the rest of its attention, its {@code o_proj} and its MLP would give hidden states no
   * one reads (a fifth of a prefill's multiply-adds in a 4-layer model, 3% in a 24-layer one).
   * One call instead of a prefill pass and a decode pass: on the demo's large model a pass of
   * 12 layers costs a few milliseconds whatever it computes, and serving 8 sessions its prefills
   * ahead (about 30 tokens each, beside the running decodes) ran as passes of their own that took
   * 41% of the worker's time.
   */
  private static final String MIXED = """
      def mixed(self: __torch__.KIND, ids: Tensor, embed: Tensor, cos: Tensor, sin: Tensor, rot: Tensor,
          norms: List[Tensor], lin: List[LIN], pools: List[Tensor], rows: List[int], past: List[int],
          count: List[int], last: Tensor, mask_value: float, mask: Tensor, drows: Tensor, positions: Tensor,
          first: int, order: Tensor, unorder: Tensor, permuted: bool, slots: int, heads: int, kv_heads: int,
          head_dim: int, inter: int, eps: float, scaling: float, qkv_bias: bool, qk_norm: bool,
          final_norm: Tensor) -> Tensor:
        n = drows.size(0)
        prefilled = ids.size(0) - n
        group = heads // kv_heads
        x = torch.embedding(embed, ids).to(cos.dtype)
        attn_mask = mask.to(x.dtype)
        masks = annotate(List[Optional[Tensor]], [])
        for i in range(len(rows)):
          c = count[i]
          if c == 1:
            masks.append(None)
          else:
            m = torch.full([c, past[i] + c], mask_value, dtype=x.dtype, device=x.device).triu(past[i] + 1)
            masks.append(m.repeat([group, 1]))
        layers = len(norms) // 4
        for l in range(layers):
          qk, v = self.qk_v(x, l, norms, lin, cos, sin, rot, heads, kv_heads, head_dim, eps, qkv_bias, qk_norm)
          pool = pools[l]
          final = l == layers - 1
          outs = annotate(List[Tensor], [])
          o = 0
          for i in range(len(rows)):
            c = count[i]
            p = past[i]
            r = rows[i]
            pool[r, 0, :, p:p + c] = qk[o:o + c, heads:].transpose(0, 1)
            pool[r, 1, :, p:p + c] = v[o:o + c].transpose(0, 1)
            if final:
              # Only the last row's query: it sees every slot, so no mask.
              q = qk[o + c - 1, :heads].reshape([kv_heads, group, head_dim])
              a = torch.scaled_dot_product_attention(q.unsqueeze(0), pool[r:r + 1, 0, :, :p + c], pool[r:r + 1, 1, :, :p + c], None, 0.0, False, scale=scaling)
              outs.append(a.reshape([1, heads * head_dim]))
            else:
              q = qk[o:o + c, :heads].reshape([c, kv_heads, group, head_dim]).permute([1, 2, 0, 3]).reshape([kv_heads, group * c, head_dim])
              a = torch.scaled_dot_product_attention(q.unsqueeze(0), pool[r:r + 1, 0, :, :p + c], pool[r:r + 1, 1, :, :p + c], masks[i], 0.0, False, scale=scaling)
              outs.append(a.reshape([kv_heads, group, c, head_dim]).permute([2, 0, 1, 3]).reshape([c, heads * head_dim]))
            o = o + c
          if n > 0:
            outs.append(self.decodes(qk[prefilled:], v[prefilled:], pool, drows, positions, first, order, unorder,
                permuted, attn_mask, slots, heads, kv_heads, head_dim, scaling))
          if final:
            x = x.index_select(0, last)
          x = self.o_mlp(x, torch.cat(outs), l, norms, lin, inter, eps)
        return LINEAR(self.rms(x, final_norm, eps), lin[4 * layers])
      """;

  /**
   * What every layer does around its attention, for {@link #STEP} and {@link #MIXED} alike:
   * {@code qk_v}, the q/k heads after q/k_norm and RoPE and the v heads of
   * {@code input_layernorm(x)}; {@code decodes}, the attention of single-token decodes (their new
   * keys and values stored with one indexed write, their caches read as a view of the pool rows
   * {@code [first, first + n)}, the queries permuted into row order and back where the batch's is
   * another); {@code o_mlp}, the residual adds of o_proj and of the gated MLP.
   */
  private static final String LAYER = """
      def rms(self: __torch__.KIND, x: Tensor, w: Tensor, eps: float) -> Tensor:
        return x * (x.square().mean([-1], True) + eps).pow(-0.5) * w
      def qk_v(self: __torch__.KIND, x: Tensor, l: int, norms: List[Tensor], lin: List[LIN], cos: Tensor, sin: Tensor,
          rot: Tensor, heads: int, kv_heads: int, head_dim: int, eps: float, qkv_bias: bool,
          qk_norm: bool) -> Tuple[Tensor, Tensor]:
        h = self.rms(x, norms[4 * l], eps)
        qkv = QKV.reshape([x.size(0), heads + 2 * kv_heads, head_dim])
        qk = qkv[:, :heads + kv_heads]
        if qk_norm:
          qk = self.rms(qk, norms[4 * l + 1], eps)
        return qk * cos + torch.matmul(qk, rot) * sin, qkv[:, heads + kv_heads:]
      def decodes(self: __torch__.KIND, qk: Tensor, v: Tensor, pool: Tensor, rows: Tensor, positions: Tensor, first: int,
          order: Tensor, unorder: Tensor, permuted: bool, mask: Tensor, slots: int, heads: int, kv_heads: int,
          head_dim: int, scaling: float) -> Tensor:
        n = rows.size(0)
        pool[rows, :, :, positions] = torch.stack([qk[:, heads:], v], 1)
        both = pool[first:first + n, :, :, :slots]
        q = qk[:, :heads].reshape([n, kv_heads, heads // kv_heads, head_dim])
        if permuted:
          q = q.index_select(0, order)
        o = torch.scaled_dot_product_attention(q, both[:, 0], both[:, 1], mask, 0.0, False, scale=scaling)
        if permuted:
          o = o.index_select(0, unorder)
        return o.reshape([n, heads * head_dim])
      def o_mlp(self: __torch__.KIND, x: Tensor, attention: Tensor, l: int, norms: List[Tensor], lin: List[LIN],
          inter: int, eps: float) -> Tensor:
        x = x + LINEAR(attention, lin[4 * l + 1])
        gate_up = LINEAR(self.rms(x, norms[4 * l + 2], eps), lin[4 * l + 2])
        gate = gate_up[:, :inter]
        return x + LINEAR(gate * torch.sigmoid(gate) * gate_up[:, inter:], lin[4 * l + 3])
      """;

  /** Plain matrices multiplied by {@code aten::linear}: on a GPU, or with {@code -Dtandem.onednn=false}. */
  private static final class Dense {
    static final PtSymbolBlock BLOCK = TorchScript.load("DecodeStep", (LAYER + STEP + MIXED)
        .replace("KIND", "DecodeStep").replace("LIN]", "Tensor]").replace("LINEAR", "torch.linear")
        .replace("QKV", "(torch.linear(h, lin[4 * l], norms[4 * l + 3]) if qkv_bias else torch.linear(h, lin[4 * l]))"));
  }

  /** FBGEMM's packed float16 matrices ({@link Fbgemm}), in a module of their own: only a CPU build has the ops. */
  private static final class Packed {
    static final PtSymbolBlock BLOCK = TorchScript.load("DecodeStepPacked", (LAYER + STEP + MIXED)
        .replace("KIND", "DecodeStepPacked").replace("LIN]", PACKED + "]")
        .replace("LINEAR", "ops.quantized.linear_dynamic_fp16").replace("QKV", "ops.quantized.linear_dynamic_fp16(h, lin[4 * l])"));
  }

  /**
   * Float32 matrices laid out for oneDNN ({@link OneDnn}, {@link LinearWeight.PackedFloat32}): each
   * element of the list is a pair, the plain weight (or an empty tensor where only the packed one
   * is kept) and the packed one (or an empty tensor: a {@link LinearWeight.Dense} matrix, whose
   * layout {@link OneDnn#verify} refused); batches under {@code FEW} rows multiply by the plain one
   * where there is one, as {@link LinearWeight.PackedFloat32#apply} does.
   */
  private static final class OneDnnPacked {
    static final String LINEARS = """
        def lin(self: __torch__.DecodeStepOneDnn, x: Tensor, w: Tuple[Tensor, Tensor]) -> Tensor:
          if w[1].numel() == 0 or x.size(0) < FEW and w[0].numel() > 0:
            return torch.linear(x, w[0])
          return ops.mkldnn._linear_pointwise(x, w[1], None, "none", annotate(List[Optional[number]], []), "")
        def lin_bias(self: __torch__.DecodeStepOneDnn, x: Tensor, w: Tuple[Tensor, Tensor], b: Tensor) -> Tensor:
          if w[1].numel() == 0 or x.size(0) < FEW and w[0].numel() > 0:
            return torch.linear(x, w[0], b)
          return ops.mkldnn._linear_pointwise(x, w[1], b, "none", annotate(List[Optional[number]], []), "")
        """.replace("FEW", String.valueOf(LinearWeight.PackedFloat32.FEW_ROWS));
    static final PtSymbolBlock BLOCK = TorchScript.load("DecodeStepOneDnn", (LINEARS + LAYER + STEP + MIXED)
        .replace("KIND", "DecodeStepOneDnn").replace("LIN]", "Tuple[Tensor, Tensor]]").replace("LINEAR", "self.lin")
        .replace("QKV", "(self.lin_bias(h, lin[4 * l], norms[4 * l + 3]) if qkv_bias else self.lin(h, lin[4 * l]))"));
  }

  /** The module whose methods this step calls: {@link Dense}, {@link Packed} or {@link OneDnnPacked}'s. */
  private final PtSymbolBlock block;
  private final IValue norms;
  private final IValue linears;
  private final IValue embed;
  private final IValue finalNorm;
  private final IValue rotateHalf;
  /** The model's constants as both methods take them: heads, kv_heads, head_dim, inter, eps, qkv_bias, qk_norm. */
  private final IValue[] shape;

  private DecodeStep(HfConfig config, PtSymbolBlock block, IValue norms, IValue linears, IValue embed, IValue finalNorm,
      IValue rotateHalf, boolean qkvBias, boolean qkNorm) {
    this.block = block;
    this.norms = norms;
    this.linears = linears;
    this.embed = embed;
    this.finalNorm = finalNorm;
    this.rotateHalf = rotateHalf;
    this.shape = new IValue[] {IValue.from((long) config.numAttentionHeads()), IValue.from((long) config.numKeyValueHeads()),
        IValue.from((long) config.headDim()), IValue.from((long) config.intermediateSize()), IValue.from(config.rmsNormEps()),
        IValue.from(qkvBias), IValue.from(qkNorm)};
  }

  /**
   * The step for these weights, or null where it does not apply: matrices of both kinds, a
   * bias on a projection other than q/k/v (no supported architecture has one).
   *
   * @param rotateHalf {@code [hd, hd]}, {@link DecoderStack}'s rotate_half matrix
   */
  static DecodeStep of(HfConfig config, DecoderWeights w, NDArray rotateHalf) {
    List<LinearWeight> matrices = new ArrayList<>();
    for (DecoderWeights.Layer l : w.layers()) matrices.addAll(List.of(l.qkvProj(), l.oProj(), l.gateUpProj(), l.downProj()));
    matrices.add(w.lmHead());
    boolean packed = matrices.get(0) instanceof LinearWeight.PackedFloat16;
    boolean oneDnn = !packed && matrices.stream().anyMatch(m -> m instanceof LinearWeight.PackedFloat32);
    List<PtNDArray> dense = new ArrayList<>();
    List<IValue> packs = new ArrayList<>();
    NDArray none = oneDnn ? rotateHalf.getManager().create(new float[0]) : null;
    for (int i = 0; i < matrices.size(); i++) {
      LinearWeight m = matrices.get(i);
      boolean biasAllowed = i % 4 == 0 && i < matrices.size() - 1; // q/k/v's only
      if (m instanceof LinearWeight.PackedFloat16 p && packed) {
        packs.add(p.packed()); // the bias, if any, is packed with it
      } else if (m instanceof LinearWeight.PackedFloat32 p && oneDnn && (p.bias() == null || biasAllowed)) {
        try (IValue plain = IValue.from((PtNDArray) (p.plain() != null ? p.plain() : none))) {
          packs.add(IValue.tupleFrom(plain, p.packed()));
        }
      } else if (m instanceof LinearWeight.Dense d && oneDnn && (d.bias() == null || biasAllowed)) {
        try (IValue plain = IValue.from((PtNDArray) d.weight());
            IValue notPacked = IValue.from((PtNDArray) none)) {
          packs.add(IValue.tupleFrom(plain, notPacked));
        }
      } else if (m instanceof LinearWeight.Dense d && !packed && !oneDnn && (d.bias() == null || biasAllowed)) {
        dense.add((PtNDArray) d.weight());
      } else {
        if (oneDnn) packs.forEach(IValue::close); // the pairs made above
        return null;
      }
    }
    NDArray firstBias = w.layers().get(0).qkvProj() instanceof LinearWeight.Dense d ? d.bias()
        : w.layers().get(0).qkvProj() instanceof LinearWeight.PackedFloat32 p ? p.bias() : null;
    boolean bias = !packed && firstBias != null;
    boolean norm = w.layers().get(0).qkNorm() != null;
    List<PtNDArray> norms = new ArrayList<>();
    for (DecoderWeights.Layer l : w.layers()) {
      NDArray qkvBias = l.qkvProj() instanceof LinearWeight.Dense d ? d.bias()
          : l.qkvProj() instanceof LinearWeight.PackedFloat32 p ? p.bias() : null;
      if (bias != (qkvBias != null) || norm != (l.qkNorm() != null)) {
        if (oneDnn) packs.forEach(IValue::close); // the pairs made above
        return null;
      }
      // An absent norm or bias is stood in for by the layer's input norm, never read (the flags say so).
      norms.add((PtNDArray) l.inputLayernorm());
      norms.add((PtNDArray) (norm ? l.qkNorm() : l.inputLayernorm()));
      norms.add((PtNDArray) l.postAttentionLayernorm());
      norms.add((PtNDArray) (bias ? qkvBias : l.inputLayernorm()));
    }
    IValue linears = packed || oneDnn ? IValue.listFrom(packs.toArray(new IValue[0])) : IValue.listFrom(dense.toArray(new PtNDArray[0]));
    if (oneDnn) packs.forEach(IValue::close); // the list holds the pairs
    PtSymbolBlock block = packed ? Packed.BLOCK : oneDnn ? OneDnnPacked.BLOCK : Dense.BLOCK;
    return new DecodeStep(config, block, IValue.listFrom(norms.toArray(new PtNDArray[0])),
        linears, IValue.from((PtNDArray) w.embedTokens()), IValue.from((PtNDArray) w.norm()),
        IValue.from((PtNDArray) rotateHalf), bias, norm);
  }

  /**
   * The logits of one decode step.
   *
   * @param ids {@code [n]} int64, each sequence's new token
   * @param cosSin {@link DecoderStack#rotary} at the sequences' positions, each {@code [n, 1, hd]}
   * @param pools per layer {@link KvPool#layer}, {@code [rows, 2, KV, capacity, hd]}
   * @param decodes the sequences: their pool rows, positions, mask
   * @return {@code [n, vocab_size]} in the compute dtype, in the manager of {@code ids}
   */
  NDArray logits(NDArray ids, NDArray[] cosSin, List<NDArray> pools, Decodes decodes, float scaling) {
    boolean permuted = decodes.order() != null;
    try (IValue id = IValue.from((PtNDArray) ids);
        IValue cos = IValue.from((PtNDArray) cosSin[0]);
        IValue sin = IValue.from((PtNDArray) cosSin[1]);
        IValue m = IValue.from((PtNDArray) decodes.mask());
        IValue c = IValue.listFrom(pools.toArray(new PtNDArray[0]));
        IValue r = IValue.from((PtNDArray) decodes.rows());
        IValue p = IValue.from((PtNDArray) decodes.positions());
        IValue f = IValue.from((long) decodes.first());
        IValue o = IValue.from((PtNDArray) (permuted ? decodes.order() : decodes.rows()));
        IValue u = IValue.from((PtNDArray) (permuted ? decodes.unorder() : decodes.rows()));
        IValue perm = IValue.from(permuted);
        IValue s = IValue.from((long) decodes.slots());
        IValue scale = IValue.from((double) scaling);
        IValue out = IValueUtils.runMethod(block, "step", id, embed, cos, sin, rotateHalf, m, norms, linears, c,
            r, p, f, o, u, perm, s, shape[0], shape[1], shape[2], shape[3], shape[4], scale, shape[5], shape[6], finalNorm)) {
      return out.toTensor((PtNDManager) ids.getManager());
    }
  }

  /**
   * The logits at each sequence's last new token after a pass over sequences with any number of
   * new tokens each, then single-token decodes, if any ({@link #MIXED}).
   *
   * @param ids {@code [N]} int64, every sequence's new tokens, one after another, the decodes' last
   * @param cosSin {@link DecoderStack#rotary} at the rows' positions, each {@code [N, 1, hd]}
   * @param pools per layer {@link KvPool#layer}
   * @param rows per prefilling sequence its pool row, with room for {@code past[i] + count[i]} tokens
   * @param past per prefilling sequence the tokens cached before this pass
   * @param count per prefilling sequence its new tokens (at least one)
   * @param last {@code [sequences]} int64, per sequence (the decodes included) the row of its last new token
   * @param maskValue what a masked score gets (HF's {@code finfo(dtype).min})
   * @param decodes the single-token decodes that end the batch, or null for none
   * @return {@code [sequences, vocab_size]} in the compute dtype, in the manager of {@code ids}
   */
  NDArray mixedLogits(NDArray ids, NDArray[] cosSin, List<NDArray> pools, long[] rows, long[] past, long[] count,
      NDArray last, float maskValue, Decodes decodes, float scaling) {
    PtNDManager manager = (PtNDManager) ids.getManager();
    if (decodes == null) {
      // No decodes: empty rows (the method reads none of the rest, which stand in for their types).
      NDArray none = manager.create(new long[0]);
      decodes = new Decodes(none, none, none, 0, null, null, 0);
    }
    boolean permuted = decodes.order() != null;
    try (IValue id = IValue.from((PtNDArray) ids);
        IValue cos = IValue.from((PtNDArray) cosSin[0]);
        IValue sin = IValue.from((PtNDArray) cosSin[1]);
        IValue c = IValue.listFrom(pools.toArray(new PtNDArray[0]));
        IValue r = IValue.listFrom(rows);
        IValue p = IValue.listFrom(past);
        IValue n = IValue.listFrom(count);
        IValue l = IValue.from((PtNDArray) last);
        IValue mv = IValue.from((double) maskValue);
        IValue m = IValue.from((PtNDArray) decodes.mask());
        IValue dr = IValue.from((PtNDArray) decodes.rows());
        IValue dp = IValue.from((PtNDArray) decodes.positions());
        IValue f = IValue.from((long) decodes.first());
        IValue o = IValue.from((PtNDArray) (permuted ? decodes.order() : decodes.rows()));
        IValue u = IValue.from((PtNDArray) (permuted ? decodes.unorder() : decodes.rows()));
        IValue perm = IValue.from(permuted);
        IValue s = IValue.from((long) decodes.slots());
        IValue scale = IValue.from((double) scaling);
        IValue out = IValueUtils.runMethod(block, "mixed", id, embed, cos, sin, rotateHalf,
            norms, linears, c, r, p, n, l, mv, m, dr, dp, f, o, u, perm, s, shape[0], shape[1], shape[2], shape[3],
            shape[4], scale, shape[5], shape[6], finalNorm)) {
      return out.toTensor(manager);
    }
  }

  /**
   * A batch's single-token decodes as {@link #logits} and {@link #mixedLogits} read them.
   *
   * @param mask {@code [n, 1, 1, slots]} float32, in the order the pool's rows are read (see
   *     {@code first}): 0 where a sequence may look, a large negative value past its own length
   * @param rows {@code [n]} int64, per sequence its pool row
   * @param positions {@code [n]} int64, per sequence the token slot its new key and value go to (its
   *     cache length)
   * @param first the sequences hold the rows {@code [first, first + n)} ({@link KvPool#bringTogether}):
   *     they are read as a view of the pool, in row order, and {@code order} ({@code [n]} int64, the
   *     sequences by row) with its inverse {@code unorder} permute the queries when that is not
   *     the batch's order ({@code null} both when it is)
   * @param slots the token slots every sequence is read over
   */
  record Decodes(NDArray mask, NDArray rows, NDArray positions, int first, NDArray order, NDArray unorder, int slots) {}

  /** Frees the list handles; the weights themselves stay with the model's manager and its packed matrices. */
  @Override
  public void close() {
    for (IValue v : List.of(norms, linears, embed, finalNorm, rotateHalf)) v.close();
    for (IValue v : shape) v.close();
  }
}
