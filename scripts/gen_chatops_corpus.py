"""Generates src/kubeprobe/chatops/data/utterances.jsonl: labelled chat messages for the intent classifier.

Each intent has about ten phrasings in English and ten in Chinese, written the way people ask in a
team chat; names, durations, ids and reasons vary. A line is
``{"text", "lang", "intent", "slots", "phrasing"}``: ``phrasing`` names the template, so an
evaluation can hold out whole phrasings (never a near-copy of a training line); ``slots`` holds
exactly what the text says. Run: .venv/bin/python scripts/gen_chatops_corpus.py
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

R = random.Random(20261203)
OUT = Path(__file__).resolve().parents[1] / "src/kubeprobe/chatops/data/utterances.jsonl"
PER_PHRASING = 20

CLUSTERS = [
    "demo-1",
    "demo-2",
    "prod-1",
    "prod-2",
    "prod-east",
    "prod-west",
    "staging",
    "staging-eu-2",
    "dev-3",
    "shanghai-a",
    "beijing-b",
    "edge-07",
    "gpu-pool-1",
    "k8s-fin-01",
]
CASES = [
    "pod-lifecycle",
    "deployment-lifecycle",
    "statefulset-lifecycle",
    "node-probe",
    "etcd-probe",
    "apiserver-probe",
    "canary-release",
    "service-probe",
    "certificate-probe",
    "namespace-lifecycle",
    "dns-check",
    "ingress-latency",
]
DUR_EN = [
    ("2h", 7200),
    ("2 hours", 7200),
    ("an hour", 3600),
    ("30 minutes", 1800),
    ("90m", 5400),
    ("half an hour", 1800),
    ("1h30m", 5400),
    ("a day", 86400),
    ("45 mins", 2700),
    ("3h", 10800),
    ("15m", 900),
    ("two hours", 7200),
    ("1 hour", 3600),
    ("4 hours", 14400),
]
DUR_ZH = [
    ("2小时", 7200),
    ("两小时", 7200),
    ("两个小时", 7200),
    ("半小时", 1800),
    ("30分钟", 1800),
    ("一天", 86400),
    ("一个半小时", 5400),
    ("1h", 3600),
    ("45分钟", 2700),
    ("三小时", 10800),
    ("十五分钟", 900),
    ("1 小时", 3600),
    ("四个小时", 14400),
    ("2h", 7200),
]
REASON_EN = [
    "etcd upgrade",
    "planned maintenance",
    "node pool rotation",
    "known flake",
    "network change window",
    "kernel patching",
    "investigating",
    "vendor outage",
    "DR drill",
    "CNI rollout",
]
REASON_ZH = [
    "etcd 升级",
    "计划内维护",
    "节点轮换",
    "已知问题",
    "网络变更",
    "内核升级",
    "正在排查",
    "机房演练",
    "CNI 升级",
    "供应商故障",
]

T: dict[str, dict[str, list[str]]] = {
    "status": {
        "en": [
            "status of {cluster}",
            "how is {cluster} doing",
            "is {cluster} healthy",
            "what's the health of {cluster}",
            "show me {cluster} status",
            "{cluster} status",
            "how are things on {cluster}",
            "give me a health summary for {cluster}",
            "any problems on {cluster} right now",
            "check {cluster}",
            "overall status",
            "is everything green on {cluster}",
        ],
        "zh": [
            "{cluster} 状态怎么样",
            "{cluster} 现在健康吗",
            "看看 {cluster} 的状态",
            "查一下{cluster}的健康情况",
            "{cluster} 有没有问题",
            "{cluster} 集群状况如何",
            "整体状态",
            "现在集群都正常吗",
            "{cluster} 还好吗",
            "汇报一下 {cluster} 的健康度",
            "{cluster}的探测结果怎么样",
        ],
    },
    "history": {
        "en": [
            "history of {case} on {cluster}",
            "show runs of {case} on {cluster}",
            "what ran on {cluster} today",
            "last runs on {cluster}",
            "{case} history",
            "how has {case} been doing lately on {cluster}",
            "list recent runs for {cluster}",
            "past results of {case}",
            "show me the run log for {cluster}",
            "success rate of {case} on {cluster} today",
            "how many times did {case} fail today",
        ],
        "zh": [
            "{cluster} 上 {case} 的历史",
            "看看{cluster}最近的运行记录",
            "{case} 最近跑得怎么样",
            "{cluster} 今天跑了哪些",
            "查一下 {case} 在 {cluster} 的历史记录",
            "{case} 今天的成功率",
            "列出{cluster}最近的运行",
            "{case} 今天失败了几次",
            "{cluster} 的运行历史",
            "最近 {case} 的结果",
        ],
    },
    "incidents": {
        "en": [
            "any incidents?",
            "open incidents on {cluster}",
            "what's firing",
            "list alerts",
            "show incidents for {cluster}",
            "what is broken right now",
            "which alerts are open",
            "are there active incidents on {cluster}",
            "what's on fire",
            "current problems",
            "show me open alerts for {cluster}",
        ],
        "zh": [
            "有什么告警",
            "{cluster} 有哪些未处理的事件",
            "当前有哪些故障",
            "列出告警",
            "现在有什么在报警",
            "看看 {cluster} 的告警",
            "还有没恢复的事件吗",
            "哪些告警还开着",
            "{cluster} 的故障列表",
            "最近有什么事件",
        ],
    },
    "rerun": {
        "en": [
            "rerun {case} on {cluster}",
            "run {case} again on {cluster}",
            "can you re-run {case} in {cluster}",
            "trigger {case} on {cluster}",
            "kick off {case} against {cluster}",
            "start {case} on {cluster} now",
            "retry {case} on {cluster}",
            "execute {case} for {cluster}",
            "{case} on {cluster} again",
            "launch a fresh run of {case} on {cluster}",
            "rerun {case}",
        ],
        "zh": [
            "在 {cluster} 上重新跑一下 {case}",
            "重跑 {case} {cluster}",
            "{cluster} 再跑一次 {case}",
            "触发 {case} 在 {cluster}",
            "在{cluster}执行{case}",
            "重新执行 {cluster} 的 {case}",
            "{case} 在 {cluster} 上重试一下",
            "马上跑一下 {cluster} 上的 {case}",
            "对 {cluster} 发起一次 {case}",
            "让 {case} 在 {cluster} 再跑一遍",
            "重跑 {case}",
        ],
    },
    "diagnose": {
        "en": [
            "why did {case} fail on {cluster}",
            "diagnose run {run}",
            "what went wrong with {run}",
            "root cause of {case} on {cluster}",
            "explain the failure of {case} on {cluster}",
            "analyze run {run}",
            "why is {case} failing",
            "what broke {case} on {cluster}",
            "rca for {run}",
            "what caused run {run} to fail",
            "diagnose {case} {cluster}",
        ],
        "zh": [
            "{case} 在 {cluster} 上为什么失败",
            "诊断一下 {run}",
            "{run} 失败的原因是什么",
            "分析一下 {cluster} 的 {case} 失败",
            "{case} 挂了是什么原因",
            "根因分析 {run}",
            "{cluster} 上 {case} 出了什么问题",
            "看看 {run} 为啥失败",
            "{case} 为什么一直失败",
            "给出 {run} 的根因",
            "{cluster} {case} 失败诊断",
        ],
    },
    "silence": {
        "en": [
            "silence {cluster} for {dur}, {reason}",
            "mute {cluster} for {dur}",
            "silence {case} on {cluster} for {dur} because {reason}",
            "shut up alerts from {cluster} for {dur}",
            "snooze {cluster} {dur}",
            "mute alerts on {cluster} for the next {dur}, reason: {reason}",
            "stop alerting for {cluster} for {dur}",
            "quiet {case} on {cluster} for {dur}",
            "don't page me about {cluster} for {dur}, {reason}",
            "suppress notifications for {cluster} during {dur}",
            "silence {cluster} {dur}",
        ],
        "zh": [
            "静默 {cluster} {dur}，{reason}",
            "把 {cluster} 的告警屏蔽 {dur}",
            "{cluster} 静音 {dur}，因为{reason}",
            "屏蔽 {cluster} 上 {case} 的告警 {dur}",
            "{dur} 内不要再报 {cluster} 的告警",
            "{cluster} 告警通知先停 {dur}，原因：{reason}",
            "{cluster} 先别告警了，静默{dur}",
            "免打扰 {cluster} {dur}",
            "压制 {cluster} 的告警 {dur}，{reason}",
            "接下来{dur}屏蔽{cluster}",
            "对 {cluster} 加个 {dur} 的静默",
        ],
    },
    "unsilence": {
        "en": [
            "unsilence {silence}",
            "remove silence {silence}",
            "unmute silence {silence}",
            "end silence {silence}",
            "lift the silence {silence}",
            "delete silence {silence}",
            "cancel silence {silence}",
            "turn alerts back on, drop silence {silence}",
            "expire silence {silence} now",
            "stop silence {silence}",
        ],
        "zh": [
            "取消静默 {silence}",
            "删除静默 {silence}",
            "解除屏蔽 {silence}",
            "恢复告警，静默 {silence} 不要了",
            "结束静默{silence}",
            "把静默 {silence} 撤掉",
            "静默 {silence} 可以取消了",
            "撤销屏蔽 {silence}",
            "关掉静默 {silence}",
            "解除 {silence} 号静默",
        ],
    },
    "ack": {
        "en": [
            "ack {incident}",
            "acknowledge incident {incident}",
            "I'm on incident {incident}",
            "I'll take {incident}",
            "ack incident {incident}, {reason}",
            "looking into incident {incident}",
            "mark incident {incident} as acknowledged",
            "got it, ack {incident}",
            "taking incident {incident} because {reason}",
            "claim incident {incident}",
            "I own incident {incident}",
        ],
        "zh": [
            "确认告警 {incident}",
            "认领事件 {incident}",
            "{incident} 我来处理",
            "收到，确认 {incident}",
            "事件 {incident} 我在看了",
            "ack 一下 {incident}",
            "告警 {incident} 已知悉",
            "我接手故障 {incident}，{reason}",
            "确认 {incident}，原因：{reason}",
            "{incident} 号事件我跟进",
        ],
    },
    "resolve": {
        "en": [
            "resolve incident {incident}",
            "close {incident}",
            "incident {incident} is fixed",
            "mark {incident} resolved",
            "incident {incident} can be closed, {reason}",
            "we fixed incident {incident}",
            "close out incident {incident} because {reason}",
            "resolve {incident}",
            "incident {incident} is over",
            "done with incident {incident}",
        ],
        "zh": [
            "关闭事件 {incident}",
            "{incident} 已经恢复了",
            "把故障 {incident} 标记为已解决",
            "事件 {incident} 解决了，{reason}",
            "结束告警 {incident}",
            "{incident} 可以关掉了",
            "故障 {incident} 已修复，原因是{reason}",
            "解决 {incident}",
            "告警 {incident} 处理完了",
            "{incident} 号事件已恢复",
        ],
    },
    "gate": {
        "en": [
            "gate status for {cluster}",
            "can we release to {cluster}",
            "is the release gate passing on {cluster}",
            "show gates of {cluster}",
            "did the gate block {cluster}",
            "release check for {cluster}",
            "is {cluster} clear to deploy",
            "gate results",
            "what did the last gate say on {cluster}",
            "is the rollout blocked on {cluster}",
        ],
        "zh": [
            "{cluster} 的发布门禁",
            "{cluster} 可以发布吗",
            "门禁通过了吗 {cluster}",
            "看看 {cluster} 的卡点结果",
            "发布检查 {cluster}",
            "{cluster} 的变更被拦了吗",
            "最近的门禁结果",
            "{cluster} 能上线吗",
            "{cluster} 发布卡点状态",
            "上线检查过了没有 {cluster}",
        ],
    },
    "approve": {
        "en": [
            "approve remediation {rem}",
            "go ahead with fix {rem}",
            "approve {rem}",
            "yes apply remediation {rem}",
            "ok to run remediation {rem}",
            "I approve {rem}",
            "lgtm remediation {rem}",
            "allow fix {rem}",
            "green light remediation {rem}",
            "proceed with remediation {rem}",
        ],
        "zh": [
            "批准修复 {rem}",
            "同意 {rem}",
            "修复 {rem} 可以执行",
            "通过自愈 {rem}",
            "允许执行处置 {rem}",
            "{rem} 批了",
            "同意执行修复 {rem}",
            "准了 {rem}",
            "审批通过 {rem}",
            "自愈 {rem} 放行",
        ],
    },
    "deny": {
        "en": [
            "deny remediation {rem}",
            "reject fix {rem}",
            "don't apply {rem}",
            "no to remediation {rem}, {reason}",
            "block remediation {rem} because {reason}",
            "deny {rem}",
            "veto {rem}",
            "do not run remediation {rem}",
            "refuse fix {rem}",
            "turn down remediation {rem}",
        ],
        "zh": [
            "拒绝修复 {rem}",
            "不同意 {rem}",
            "驳回自愈 {rem}，{reason}",
            "{rem} 不要执行",
            "否决处置 {rem}",
            "别执行修复 {rem}，因为{reason}",
            "拒绝 {rem}",
            "修复 {rem} 不批",
            "不允许 {rem}",
            "驳回 {rem}",
        ],
    },
    "pause_remediation": {
        "en": [
            "pause remediation on {cluster}",
            "stop auto-healing on {cluster}",
            "freeze remediation",
            "disable self-healing for {cluster} because {reason}",
            "hold all automatic fixes",
            "pause auto remediation on {cluster}, {reason}",
            "turn off remediation on {cluster}",
            "no more automatic fixes on {cluster}",
            "halt self-heal",
            "suspend remediation for {cluster}",
        ],
        "zh": [
            "暂停 {cluster} 的自愈",
            "停止自动修复",
            "冻结 {cluster} 的自动处置，{reason}",
            "关闭自愈",
            "{cluster} 先别自动修复了",
            "暂停自动修复，因为{reason}",
            "禁用 {cluster} 自愈",
            "挂起自动处置 {cluster}",
            "停掉 {cluster} 的自动修复",
            "暂停所有自愈动作",
        ],
    },
    "resume_remediation": {
        "en": [
            "resume remediation on {cluster}",
            "re-enable self-healing",
            "unfreeze remediation for {cluster}",
            "turn auto-healing back on for {cluster}",
            "start automatic fixes again",
            "resume auto remediation",
            "enable remediation on {cluster} again",
            "let remediation run again on {cluster}",
            "unpause self-heal",
            "restore automatic remediation on {cluster}",
        ],
        "zh": [
            "恢复 {cluster} 的自愈",
            "重新开启自动修复",
            "解冻 {cluster} 的自动处置",
            "打开自愈",
            "{cluster} 可以继续自动修复了",
            "恢复自动修复",
            "启用 {cluster} 自愈",
            "继续自动处置 {cluster}",
            "重新启用 {cluster} 的自动修复",
            "自愈恢复吧",
        ],
    },
    "help": {
        "en": [
            "help",
            "what can you do",
            "what can I do here",
            "commands?",
            "how do I use this bot",
            "show me the commands",
            "usage",
            "what am I allowed to do",
            "list your commands",
            "I need help with the bot",
        ],
        "zh": [
            "帮助",
            "你能做什么",
            "我能做什么",
            "有哪些命令",
            "怎么用这个机器人",
            "命令列表",
            "使用说明",
            "我有哪些权限",
            "教我怎么用",
            "说明一下用法",
        ],
    },
}
PREFIX = {
    "en": ["", "", "", "please ", "pls ", "hey bot, ", "@kubeprobe ", "quick one: "],
    "zh": ["", "", "", "请", "麻烦", "帮我", "@kubeprobe ", "机器人，"],
}
SUFFIX = {
    "en": ["", "", "", " please", " thanks", "?", " asap"],
    "zh": ["", "", "", "，谢谢", "吧", "？", "，辛苦"],
}
_SLOT_OF = {
    "cluster": "cluster",
    "case": "case",
    "dur": "duration_seconds",
    "reason": "reason",
    "run": "run",
    "incident": "incident",
    "silence": "silence",
    "rem": "remediation",
}


def fill(template: str, lang: str) -> tuple[str, dict[str, object]]:
    slots: dict[str, object] = {}
    values: dict[str, str] = {}
    for key in re.findall(r"\{(\w+)\}", template):
        if key == "cluster":
            values[key] = slots["cluster"] = R.choice(CLUSTERS)
        elif key == "case":
            values[key] = slots["case"] = R.choice(CASES)
        elif key == "dur":
            text, secs = R.choice(DUR_EN if lang == "en" else DUR_ZH)
            values[key], slots["duration_seconds"] = text, secs
        elif key == "reason":
            values[key] = slots["reason"] = R.choice(REASON_EN if lang == "en" else REASON_ZH)
        elif key == "run":
            values[key] = slots["run"] = f"{R.randrange(16**32):032x}"
        else:
            number = R.randrange(1, 999)
            slots[_SLOT_OF[key]] = number
            values[key] = R.choice([str(number), f"#{number}"])
    return template.format(**values), slots


def main() -> None:
    lines = []
    for intent, langs in T.items():
        for lang, templates in langs.items():
            for index, template in enumerate(templates):
                for _ in range(PER_PHRASING):
                    text, slots = fill(template, lang)
                    suffix = "" if template.endswith("{reason}") else R.choice(SUFFIX[lang])
                    text = R.choice(PREFIX[lang]) + text + suffix
                    if lang == "en" and R.random() < 0.3:
                        text = text[:1].upper() + text[1:]
                    lines.append(
                        {
                            "text": text,
                            "lang": lang,
                            "intent": intent,
                            "slots": slots,
                            "phrasing": f"{intent}/{lang}/{index}",
                        }
                    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(lines)} lines, {sum(len(v) for d in T.values() for v in d.values())} phrasings -> {OUT}")


if __name__ == "__main__":
    main()
