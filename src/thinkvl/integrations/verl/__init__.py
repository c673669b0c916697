"""RLCS on verl (0.9.x): thinkvl's reward system and the RLCS mechanisms as verl plug-ins.

verl removed its curriculum-sampler hook; what it offers instead, and what each RLCS part plugs into:

- `reward_manager.ThinkvlRewardManager` — ``reward.reward_manager`` (source ``importlib``). verl's own managers
  decode responses with ``skip_special_tokens=True``, which strips ``<think>``/``<answer>``/box tokens, so the
  strict format gate would fail every response; this one decodes with the tags kept.
- `replay_buffer.RLCSReplayBuffer` — ``trainer.v1.sampler.custom_sampler``: dynamic sampling expansion
  (over-draw by the EMA ratio through verl's ``refill_fn``, keep the most balanced groups) and the online
  curriculum's pass-rate updates.
- `dataset.RLCSDataset` — ``data.custom_cls``: draws each prompt with the curriculum's tier weights.
- `agent_loop.ForcedAnswerAgentLoop` — ``actor_rollout_ref.rollout.agent.agent_loop_config_path``: forced
  answering (an over-long thought is closed by a marker with ``response_mask`` 0 and the model answers).

The recipe is ``configs/verl/run_glm41v_9b_rlcs.sh`` with ``configs/verl/forced_answer_agent_loop.yaml``. Import the
sub-modules directly; this package imports nothing from verl by itself.
"""
