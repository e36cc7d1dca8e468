"""Cue words: the general vocabulary of each kind of request, in English and Chinese, as marker tokens.

A new phrasing rarely shares its wording with the training lines but nearly always uses one of a
few words for what it asks ("retry", "再跑", "mute", "屏蔽", "unfreeze", "解冻"). Each list below is
such vocabulary (never whole messages); a match adds its token, which the classifier weighs next to
the character n-grams. Prefixes that undo (``un-``, ``re-enable``, 取消, 解除) have their own cue so
"unfreeze" is not read as "freeze".
"""

from __future__ import annotations

import re

CUES: tuple[tuple[str, str], ...] = (
    (
        "again",
        r"again|re-?run|re-?try|retry|once more|重跑|重新跑|再跑|再来|再执行|重试|再.一?[次遍]|再来一次",
    ),
    ("trigger", r"trigger|kick off|launch|\bstart\b|execute|\brun\b|\bfire\b|触发|执行|跑一下|发起|启动|跑"),
    (
        "why",
        r"\bwhy\b|caus|root|\brca\b|diagnos|analy[sz]|explain|went wrong|\bbroke\b|what happened"
        r"|为什么|为啥|原因|根因|诊断|分析|出了什么问题|怎么回事|挂了",
    ),
    (
        "health",
        r"status|health|healthy|problems? (on|in|with)|\bgreen\b|doing|\bokay\b|\bfine\b"
        r"|状态|健康|正常|还好|状况|怎么样|如何",
    ),
    (
        "history",
        r"history|\bruns\b|\bran\b|\bpast\b|recent|lately|success rate|how many times|\blog\b|yesterday"
        r"|历史|记录|最近|成功率|几次|跑了哪些|跑得",
    ),
    ("alert", r"incident|alert|firing|on fire|broken|outage|告警|报警|事件|故障"),
    (
        "listing",
        r"\bopen\b|active|current|\blist\b|\bany\b|which|what's|列出|哪些|有什么|未处理|没恢复|开着|列表",
    ),
    (
        "mute",
        r"silence|\bmute|snooze|quiet|suppress|shut up|don't page|stop alerting|notifications"
        r"|静默|静音|屏蔽|免打扰|压制|别告警|不要再报|先停|别报",
    ),
    ("undo", r"\bun-?\w+|\bremove|\blift|delete|cancel|\bend\b|expire|\bdrop|取消|删除|解除|撤|结束|不要了"),
    (
        "ack",
        r"\back\b|acknowledg|i'm on|i am on|i'll take|\btak(e|ing)\b|looking into|claim|\bown\b|got it"
        r"|on it|mine"
        r"|认领|确认|我来|我在看|知悉|接手|跟进|收到|我处理",
    ),
    (
        "resolved",
        r"resolv|\bclose|fixed|\bover\b|\bdone\b|recovered|已恢复|恢复了|解决|关闭|修复了|已修复|处理完|好了|关掉|关了",
    ),
    ("gate", r"\bgate|release|deploy|rollout|roll out|clear to|blocked|ship|门禁|发布|卡点|上线|变更|拦"),
    (
        "yes",
        r"approve|go ahead|\byes\b|\bok to\b|lgtm|\ballow|green light|proceed|sign off"
        r"|批准|同意|可以执行|通过|允许|批了|准了|放行",
    ),
    (
        "no",
        r"\bdeny|reject|don't|do not|\bno to\b|\bblock|veto|refuse|turn down|\bnot\b"
        r"|拒绝|不同意|驳回|不要执行|否决|别执行|不批|不允许|不要",
    ),
    ("remedy", r"remediat|\bfix|heal|\bauto|修复|自愈|处置"),
    (
        "pause",
        r"\bpause|\bstop|\bfreeze|disable|\bhold|halt|suspend|turn off|no more"
        r"|暂停|停止|冻结|关闭|禁用|挂起|停掉|先别",
    ),
    (
        "resume",
        r"resume|re-?enable|unfreeze|back on|unpause|restore|\benable|again"
        r"|恢复|重新|解冻|打开|继续|启用|开启",
    ),
    (
        "help",
        r"\bhelp|what can|commands?\b|usage|how do i|allowed|帮助|能做什么|命令|怎么用|说明|用法|权限|教我",
    ),
)
_CUES = tuple((re.compile(pattern, re.IGNORECASE), f"cue_{name}") for name, pattern in CUES)


_SCRIPT_EDGE = re.compile(
    r"(?<=[\u3000-\u9fff\uff00-\uffef])(?=[A-Za-z0-9#])|(?<=[A-Za-z0-9])(?=[\u3000-\u9fff])"
)


def cues(text: str) -> list[str]:
    """The cue tokens of a text, in the order of :data:`CUES` (``麻烦ack`` reads as ``麻烦 ack``)."""
    text = _SCRIPT_EDGE.sub(" ", text)
    return [token for rx, token in _CUES if rx.search(text)]
