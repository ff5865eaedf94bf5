"""The quarterly dip sample (stratified by department) and the survey estimates made from its reviews.

`allocation` splits the sample across departments, `selection` draws it with permanent random
numbers, `survey` turns reviewers' answers into design-weighted proportions with confidence
intervals, and `commands` is `vcp sample`. Nothing is imported here, so the `vcp` command
line can load `commands` without pulling in pandas.
"""
