"""A neutral frontal face in the 478-point layout, the shape that manual keypoints bend.

Measured once from the public-domain Grace Hopper portrait that matplotlib ships, with
mediapipe 0.10.21, then normalised: origin midway between the iris centres, eyes horizontal,
inter-iris distance 1, depth centred. Stored as little-endian int16 in units of 1/4000.
"""

from __future__ import annotations

import base64
import functools

import numpy as np
import numpy.typing as npt

from characters.face.topology import N_LANDMARKS

_SCALE = 4000.0
_DATA = (
    "nf+GDy78UgBuCvX3OQCjC/X74f4iBcD5VADlCF33SQDBBuD3IgCBAav7nvWkALwBEQAC/n/8EAAl/BL8EwA49Vb9nv8G"
    "EHT8ov94EP78rP++EMz9sv+zEJb9sP9UEXH9r/8ZEhT9s//vEjP9MQAFFJD+SgAhC8r4ov7vCur6Q+9Q+40I5fnNATsA"
    "avj5AVYA6/b8Ab4A9vQvAfkBH/t4AVwAYPc0/oj/GPlM/oz/3PV9/gIA5/QG/6IAkfMvAsICEfqvFr0ABPVFAC4Coe52"
    "AXoJqvFDATYEb/hiCBz/qf0gD1z88f1bEDr96/tyD0v9w/rpD3H+hPxWENj9ZftsEOD+AvmAEcgA8v5cChj4vv7iCI33"
    "rfIu/uUAjPubBKr+I/uICen7DvurCFj89/MNCAUB0f7kBl34W/bO/Cj+M/RA/Vr/xPDv+F8FEP0m/vr8mPrQ/ggAx/c5"
    "ECkB/O8XD10ORfxkCon8h/3fCmL8afnGEAIByfm/EJMATvNb/A0ACfsXCsv8TPkH/Vr9+Pjf+/j8Cfff9Vj/6vGG+lEC"
    "9vet+BD+pfF3/S0CX/Bn/CcFw/3UD6H8OfzyD4P9EvsvEIr+nvykCtj8mvnDEMYASfoGEcb//fm7EIMAI/0YClr6qfuV"
    "EC//xvySEIj+If6nEP39I/7sE6r+2/3VElT96v38ETj9CP43EaD9Mv6gEMn9ufueEAv/cfvqENX+JPtQEZz+5frHEeD+"
    "kPnhDc/+d+6lBygQQQBgC9363/qsEOD/lvrWEMD/GP57C1v8lPvrCvD90v0vC1T8/vluBT//hfdqBrj/x/pCCUD9NPMP"
    "9xoCUfQ4+QoAx/Wu+2T+VPp5EvP/hvxS/EL8w/ua+PP8MftT9b/9rfW7AWIB2/FAA6oD4vsrAY8AYPOn/+UBnPywAwz+"
    "KPwnCVr6G/BJBGcFDfNPBFsCF/XkBPwAAfiXBEcAF/rrA+v/mPtDA3X/o/7YAUz8bPBaBysFC/KF/5cCcP8PC+H4o/su"
    "BiT+Gu4sAZ0Ov/yUAi//qfpBCc3+XPRnAHMCG/wYCOP6/+5DC6YPyvuyAOsAbP1ZB1L5I/MDE20GIfOtFD4J3+6XB6UK"
    "ZPHWEEAIb++t/r4HlflvGLoBkf9OC/j6Q/o7B8f+QPB2AcMFIPcZAd0AaPglAX4AB/pCEQ4Ap/BRCt8Fnfy8GjICi/dr"
    "GD8Fb/XgFgIHDgCq+Jv8MAAGG78BofkBAWoAyfrLAJsAf/u8AOUA1fAl/yEEW/qr/1oABPlG/w8AuvdA/x8AffZ//3wA"
    "xPXT//4AbO7k/esLQPbmAFQBOQDEDFz8D/sdDer9TfwyCuz7BP7KDH78FgCz/6/8KPUcFfsEO/fQFnMDkfyLGTsAbvE9"
    "EvcLU/tIAK0Apv1JBPr7MgDeGdn/2/nKGWoDUu/bCp4K2vyVEFn+lfwPESL+XvyqEdr9OfxoEgb+BfxUEx3/gvqQEMT/"
    "NPp4EMD/7/lXELv/aPjzDvf/r/IxC9UCpv2rAkn97fzV/8n/8Pvg/2AA2fqkEPP/OvK/DksFPv7+/8n9/fr1FAEAPADt"
    "BDT5u/6MA9z6MAA/A3z6lvysBin8LwAUGOD+LQDpFcP+if3BFRf/TvcrErEBYfloCjH/9vjHE+cA//URCsv//vfcC4f/"
    "nvRnDC8B5fzMF1L/oPttB1P9zvVdEy4D3/cpFSsCGPZXENoB7PDZDI0GD/SAEFkDAPDuDSMKv/a6DWAArPw2BSP9qPza"
    "CQj6nvsPCsH7W/37CN34vfu9/j3/Pvns/eD+CffE/fH+O/UM/pH/AfSu/okAL/PaABEDkO56BCIKf/TOAgcCFvY9AxwB"
    "JfgpA30ABvrCAjkAb/tMAh8AafznAQQAOu5aBOgPnftiCon8rf3FBeD6x/0TCtT4k/7CCn75xf1ACpf5CvzJChL96v7w"
    "Chj5Bv8uC/L6VfzKALIAJ/0zAcn/nf2PAbP+WfUTAIEBTfSh/4YBjwEgBb75cgp8AKYB2QHwCun6RRBM+3QISgawAS4A"
    "sQfMAUcAFQnSAa0ADAsPAeMBFwVzAVEAsAjf/XP/9QYK/nr/PAoh/uz/Mguy/osAPAwfAq0CGgasFrkACgsgABgCxhB2"
    "AWMJCA4nASAErgdjCA//nAElD1r8bAFcEDj9hAN8D0f9zwTtD2r+/AJXENL9OgRpENj+IQeCEboArAFdChj43AHgCIv3"
    "Vw3N/ckAlgSaBKP+OwWBCeX7RQWjCFL89AsSCPMAuQHhBlv4zwlh/BX+5gvS/EH/8w7u+EcFQQO2/fH8fQWo/vn/UAg5"
    "EBkBSw8BD00OGQRfCof84ALcCmH8bwauEPQADQaqEIYAxgz2+/P/RwUQCsf8+QaW/Ez9SweA++r8+Qji9Ub/6g2D+jkC"
    "DAiq+AD+Tg4w/RICUA9o/AoFiQHXD578PQP3D339hAQvEIL+ugOeCtX8PQatELgAdAXyELv/2AWoEHcAVgMZClf6AQSO"
    "ECj/xQKQEIT+TwGmEPv9MwLuE6j+nwHTElL9gwH5ETf9aAE0EZ79RwGcEMb98gOREAT/PATcEM7+hwRAEZX+xgS3Edf+"
    "pgbfDcX+nRCkBxgQ4gScENX/KAXDELX/WAJ6C1n8tATkCuz9mwIuC1P8GAZwBTX/hwhvBqv/gwU7CTr9rQwP9wQCnQs3"
    "+fP/YgpT+07+2wV6Eun/1QPt+zr8TgSa+Or86gRV9bb9TwqUAU8BtQ0pA5UDSwQwAYUAnwxm/8sBjwOtAwb+RwQkCVf6"
    "iA9OBFEFmgw9BEgCpwrLBOoA2Qd8BDgA2QXbA9//YgQ9A23/mQHVAUn8PA9eBxYF0g1T/34CIQEPC+H4jwQrBh/+FREl"
    "AYwORwOLAij/lQU7Ccb+sgs7AF0CSAQSCOD6JxA6C5gPWASxAOIACQNUB0/5ogzvEl0GhAyLFDMJfxCWB40KMg7CEC0I"
    "GBCu/qQHlAZmGLYB8ABOC/j65AU5B77+TA9RAawF+gjgAMwAyAfuAG8AuwUrEQIA/g5RCssFsgOwGjACeghOGDUFcQq+"
    "FvgGnQbcAF0AegXAAJEAtgTAANwA8A4D/wgEywWn/00AFAct/wAAXwgS/w0AmglF/2gAUwqe/+cA6xDd/dcL1Am1AEEB"
    "QgUYDeb9FwQwCur7bALKDHv8wwoMFfAEygjBFmsDuwOHGTgAAw4dEukLzwRNAKIApQJGBPX7Twa0GWIDCxDWCogKuAKM"
    "EFb++gIFER/+MAOfEdX9XgNfEv/9OwRWExf/OgWDELr/ggVrELb/xAVLEK//vAfyDun/IA0xC8ICjQKqAkT9SQO+/8H/"
    "NQTS/1UA6wSXEOr/hQ2zDjkF5gHU/8P9MAXyFPr/nAGJA9n6ugOqBiP8wALAFRT/vAgpEqMBzgZiCij/IwfCE9wACQoV"
    "Crz/JAjcC3r/WQtpDB0BYwPMF0//pQRnB039MApVEyEDMQgfFSIC6QlWEMkBuQ7SDHsG1gt3EEoDbQ/gDQ8KUwm9DVEA"
    "kQM0BR390APZCQb6wwQKCr77LAP5CNz4egR9/jL/6gaQ/dH+Gwlh/d/+3gqv/Xz/EgxW/m8Atgy7APsCzxB8BAwKWwu5"
    "AvMByQkjAwoB0wcMA24ACgaxAi0AqwRNAhQAugPnAfv/4BBYBNgPuQRbCoX8tQLBBdz6xgITCtP48gHECn75vwJECpb5"
    "RgTBCg/9ogHxChf5dwEtC/L60QPHAKoAAgMrAcL/dQJ/Aa3+uwrl/2sBxAte/28BMPgAANoAqfn3/9oAIfjV/toArvYG"
    "ANoAOfgqAdoA0AcAAMoARwkAAMoAxwfE/soAVwb7/8oA2gc7AcoA"
)


@functools.cache
def template_landmarks() -> npt.NDArray[np.float64]:
    """The template as a (478, 3) array (a fresh copy is cheap; do not modify the cached one)."""
    raw = np.frombuffer(base64.b64decode(_DATA), dtype="<i2").astype(np.float64)
    pts = raw.reshape(N_LANDMARKS, 3) / _SCALE
    pts.setflags(write=False)
    return pts
